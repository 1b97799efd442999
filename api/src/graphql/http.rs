//! GraphQL over HTTP, per the GraphQL-over-HTTP specification: `POST` and `GET /graphql`,
//! `application/graphql-response+json` with 4xx for request errors, `application/json` with 200,
//! no mutation over GET, GraphiQL for a browser (vendored, see [`crate::web`]), the SDL at `/graphql/schema.graphql`.
//!
//! Written by hand over async-graphql because its axum extractor answers request errors with
//! 200 and accepts mutations over GET, which the specification's audit refuses.

use std::collections::HashMap;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Variables};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::persisted::{Lookup, PersistedError};
use crate::auth::Caller;
use crate::graphql::context::RequestLang;
use crate::lang::Lang;
use crate::state::{AppState, Urls};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// Which media type the client gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    GraphqlResponse,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => GRAPHQL_RESPONSE,
            Media::Json => JSON,
        }
    }
}

/// Picks the response media type from `Accept`; `None` when nothing acceptable is offered.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(f32, Media)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
        let media = match range.as_str() {
            "application/graphql-response+json" => Media::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if q > 0.0
            && best.is_none_or(|(bq, bm)| q > bq || (q == bq && media == Media::GraphqlResponse && bm == Media::Json))
        {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

fn respond(status: StatusCode, media: Media, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    response
}

/// A malformed HTTP request (bad JSON, bad parameters): 4xx whatever the media type.
fn request_error(media: Media, status: StatusCode, message: &str) -> Response {
    respond(status, media, json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }] }))
}

/// A GraphQL request error (the document does not parse or break a limit): nothing ran.
/// 400 under `application/graphql-response+json`; 200 under legacy `application/json`.
fn document_error(media: Media, message: &str) -> Response {
    let status = if media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    request_error(media, status, message)
}

/// The GraphQL parameters of a request, checked for shape.
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn params_from_json(value: Value) -> Result<Params, &'static str> {
    let Value::Object(mut o) = value else { return Err("the body must be a JSON object") };
    let query = match o.remove("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("query must be a string"),
    };
    let operation_name = match o.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("operationName must be a string"),
    };
    let object = |v: Option<Value>, what: &'static str| match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(what),
    };
    Ok(Params {
        query,
        operation_name,
        variables: object(o.remove("variables"), "variables must be an object")?,
        extensions: object(o.remove("extensions"), "extensions must be an object")?,
    })
}

fn params_from_query_string(q: &HashMap<String, String>) -> Result<Params, &'static str> {
    let parse_object = |key: &str, what: &'static str| -> Result<Option<Map<String, Value>>, &'static str> {
        match q.get(key).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                Ok(Value::Null) => Ok(None),
                _ => Err(what),
            },
        }
    };
    Ok(Params {
        query: q.get("query").cloned(),
        operation_name: q.get("operationName").filter(|s| !s.is_empty()).cloned(),
        variables: parse_object("variables", "variables must be a JSON-encoded object")?,
        extensions: parse_object("extensions", "extensions must be a JSON-encoded object")?,
    })
}

/// Whether a response failed as a whole before anything ran, and how.
enum Outcome {
    /// It ran (maybe with field errors).
    Ran,
    /// The document or its variables were refused: nothing ran.
    RequestError,
    /// It ran out of time.
    Timeout,
}

fn outcome(response: &async_graphql::Response) -> Outcome {
    let code = |e: &async_graphql::ServerError| {
        e.extensions.as_ref().and_then(|x| x.get("code")).and_then(|c| match c {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        })
    };
    if response.errors.iter().any(|e| code(e).as_deref() == Some("TIMEOUT")) {
        return Outcome::Timeout;
    }
    if response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
    {
        return Outcome::RequestError;
    }
    Outcome::Ran
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    caller: Caller,
    params: Params,
    media: Media,
    method: &Method,
) -> Response {
    let (query, register) = match params.extensions.as_ref().and_then(|e| e.get("persistedQuery")) {
        Some(ext) => match state.persisted.resolve(ext, params.query.as_deref()).await {
            Ok(Lookup::Known(q)) => (q.to_string(), None),
            Ok(Lookup::Register { hash, query }) => (query, Some(hash)),
            Err(PersistedError::NotFound) => {
                // Apollo clients answer this by sending the document with its hash.
                return respond(
                    StatusCode::OK,
                    media,
                    json!({ "errors": [{ "message": "PersistedQueryNotFound", "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" } }] }),
                );
            }
            Err(PersistedError::Invalid(message)) => return request_error(media, StatusCode::BAD_REQUEST, message),
        },
        None => (params.query.unwrap_or_default(), None),
    };
    if query.trim().is_empty() {
        return request_error(media, StatusCode::BAD_REQUEST, "missing query");
    }
    // Scanned, parsed and measured once per distinct text; the schema's guard finds it cached.
    let prepared = match state.documents.prepare(&query) {
        Ok(p) => p,
        Err(e) => return document_error(media, &e.to_string()),
    };
    if method == Method::GET && prepared.kind(params.operation_name.as_deref()) == Some(OperationType::Mutation) {
        let mut r = request_error(media, StatusCode::METHOD_NOT_ALLOWED, "mutations are only accepted over POST");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let lang = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language);
    let mut request =
        Request::new(query).variables(Variables::from_json(Value::Object(params.variables.unwrap_or_default())));
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(ext) = params.extensions {
        for (k, v) in ext {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
    }
    let keyed = caller != Caller::Anonymous;
    let request = request
        .data(state.catalog.get())
        .data(RequestLang(lang))
        .data(caller)
        .data(state.clone())
        .data(Urls { public: state.config.base_url(headers), website: state.config.website_url() });
    let response = state.schema.execute(request).await;
    let outcome = outcome(&response);
    let mut errors = Vec::with_capacity(response.errors.len());
    for e in &response.errors {
        let mut v = serde_json::to_value(e).unwrap_or_else(|_| json!({ "message": e.message }));
        if v.get("extensions").and_then(|x| x.get("code")).is_none() {
            let code = if matches!(outcome, Outcome::RequestError) { "BAD_USER_INPUT" } else { "INTERNAL" };
            if let Value::Object(o) = &mut v {
                let ext = o.entry("extensions").or_insert_with(|| json!({}));
                if let Value::Object(ext) = ext {
                    ext.insert("code".into(), json!(code));
                }
            }
        }
        errors.push(v);
    }
    let mut body = Map::new();
    match outcome {
        Outcome::Timeout => {
            body.insert("errors".into(), Value::Array(errors));
            return respond(StatusCode::SERVICE_UNAVAILABLE, media, Value::Object(body));
        }
        Outcome::RequestError => {
            body.insert("errors".into(), Value::Array(errors));
            let status = if media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            return respond(status, media, Value::Object(body));
        }
        Outcome::Ran => {}
    }
    if let Some(hash) = register {
        state.persisted.store(hash, &prepared.query, keyed).await;
    }
    // The data are written straight from the GraphQL value, in the order the document asked for
    // its fields (no JSON tree in between: a page of offers is most of the answer).
    let answer = Answer {
        data: &response.data,
        errors: &errors,
        extensions: (!response.extensions.is_empty()).then_some(&response.extensions),
    };
    match serde_json::to_string(&answer) {
        Ok(text) => {
            let mut reply = (StatusCode::OK, text).into_response();
            reply.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
            reply
        }
        Err(e) => {
            body.insert("errors".into(), json!([{ "message": format!("the answer could not be written: {e}"), "extensions": { "code": "INTERNAL" } }]));
            respond(StatusCode::INTERNAL_SERVER_ERROR, media, Value::Object(body))
        }
    }
}

/// The body of an executed request, as the GraphQL over HTTP specification lays it out.
#[derive(serde::Serialize)]
struct Answer<'a> {
    data: &'a async_graphql::Value,
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    errors: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    extensions: Option<&'a std::collections::BTreeMap<String, async_graphql::Value>>,
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = caller.map_or(Caller::Anonymous, |c| c.0);
    let Some(media) = negotiate(&headers) else {
        return (StatusCode::NOT_ACCEPTABLE, "accept application/graphql-response+json or application/json")
            .into_response();
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the request as application/json").into_response();
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return request_error(media, StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
    };
    if value.is_array() {
        return request_error(media, StatusCode::BAD_REQUEST, "batched requests are not supported");
    }
    match params_from_json(value) {
        Ok(params) => execute(&state, &headers, caller, params, media, &Method::POST).await,
        Err(message) => request_error(media, StatusCode::BAD_REQUEST, message),
    }
}

/// `GET /graphql`: GraphiQL for a browser, else a query in the URL.
pub async fn get(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let caller = caller.map_or(Caller::Anonymous, |c| c.0);
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html && !q.contains_key("query") {
        return crate::web::graphiql().into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return (StatusCode::NOT_ACCEPTABLE, "accept application/graphql-response+json or application/json")
            .into_response();
    };
    match params_from_query_string(&q) {
        Ok(params) => execute(&state, &headers, caller, params, media, &Method::GET).await,
        Err(message) => request_error(media, StatusCode::BAD_REQUEST, message),
    }
}

/// `GET /graphql/schema.graphql`: the SDL.
pub async fn schema(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/graphql; charset=utf-8")], state.schema.sdl()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn negotiation_prefers_graphql_response_json() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(negotiate(&accept("application/json")), Some(Media::Json));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json, application/json")),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(negotiate(&accept("application/graphql-response+json;q=0.5, application/json")), Some(Media::Json));
        assert_eq!(negotiate(&accept("text/html")), None);
    }
}
