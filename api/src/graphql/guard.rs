//! The schema extension every request goes through, whatever its transport (HTTP GET and POST,
//! persisted queries, the WebSocket): the document is scanned, parsed and measured by
//! [`Documents`] before async-graphql walks it, and a query or subscription start may run at most
//! [`TIMEOUT`]. A document's validation against the schema is run once per document, operation
//! and variables, and its outcome kept in [`Documents`]. Mutations are not cut short: once a write may have committed, its author gets
//! its outcome (the write path bounds its own waits before committing).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value};

use super::documents::Documents;
use super::limits::Operations;

/// Longest a query may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A request error carrying a stable `code`.
pub fn coded_error(message: impl Into<String>, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", Value::from(code));
    e.extensions = Some(ext);
    e
}

/// Whether an error without a code is an argument that did not read as its type, a fault of the
/// request: a literal that passes validation but not its scalar's parser (`from: "2026-13-01T…"`
/// for a `DateTime`) fails when the field runs, with async-graphql's `Failed to parse "Type": …`.
fn unreadable_argument(e: &ServerError) -> bool {
    e.message.starts_with("Failed to parse \"")
}

/// Gives an error of async-graphql's own (it has no `code`) the code it deserves, whatever the
/// transport: a document that does not validate and an unreadable argument are the request's
/// fault, anything else ours.
fn coded(mut e: ServerError, request_error: bool) -> ServerError {
    if e.extensions.as_ref().is_some_and(|x| x.get("code").is_some()) {
        return e;
    }
    let code = if request_error || unreadable_argument(&e) { "BAD_USER_INPUT" } else { "INTERNAL" };
    e.extensions.get_or_insert_with(ErrorExtensionValues::default).set("code", code);
    e
}

/// Creates a [`Guard`] per request.
pub struct GuardFactory {
    documents: Arc<Documents>,
}

impl GuardFactory {
    /// A factory over the shared document cache.
    pub fn new(documents: Arc<Documents>) -> GuardFactory {
        GuardFactory { documents }
    }
}

impl ExtensionFactory for GuardFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard {
            documents: self.documents.clone(),
            operations: Mutex::new(None),
            validation: Mutex::new(None),
        })
    }
}

/// The per-request guard.
struct Guard {
    documents: Arc<Documents>,
    operations: Mutex<Option<Operations>>,
    /// The request's key in the cache of validations.
    validation: Mutex<Option<u128>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Guard {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let refuse = |e: &super::limits::DocumentError| coded_error(e.to_string(), "BAD_USER_INPUT");
        let prepared = self.documents.prepare(&request.query).map_err(|e| refuse(&e))?;
        prepared
            .usages
            .get_or_init(|| super::rules::variable_usages(&ctx.schema_env.registry, &prepared.doc))
            .as_ref()
            .map_err(refuse)?;
        request.set_parsed_query(prepared.doc.clone());
        if let Ok(mut ops) = self.operations.lock() {
            *ops = Some(prepared.operations.clone());
        }
        // Variables that cannot be written out are simply not cached.
        if let Ok(variables) = serde_json::to_vec(&request.variables)
            && let Ok(mut key) = self.validation.lock()
        {
            *key = Some(self.documents.validation_key(&request.query, request.operation_name.as_deref(), &variables));
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let key = self.validation.lock().ok().and_then(|k| *k);
        if let Some(done) = key.and_then(|k| self.documents.validated(k)) {
            return Ok(done);
        }
        let result =
            next.run(ctx).await.map_err(|errors| errors.into_iter().map(|e| coded(e, true)).collect::<Vec<_>>())?;
        if let Some(key) = key {
            self.documents.remember_validation(key, result);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let kind = self.operations.lock().ok().and_then(|ops| ops.as_ref().and_then(|o| o.kind(operation_name)));
        let mut response = if kind == Some(OperationType::Mutation) {
            next.run(ctx, operation_name).await
        } else {
            match tokio::time::timeout(TIMEOUT, next.run(ctx, operation_name)).await {
                Ok(response) => response,
                Err(_) => Response::from_errors(vec![coded_error("the query took too long", "TIMEOUT")]),
            }
        };
        response.errors = std::mem::take(&mut response.errors).into_iter().map(|e| coded(e, false)).collect();
        response
    }
}
