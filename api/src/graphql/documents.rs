//! Parsed and checked GraphQL documents, kept by text: a client sends the same few documents
//! over and over, so each distinct text is scanned, parsed and measured once (a bounded cache,
//! shared by every transport and by persisted queries).

use std::hash::BuildHasher;
use std::sync::Arc;

use async_graphql::ValidationResult;
use async_graphql::parser::types::{ExecutableDocument, OperationType};

use super::limits::{self, DocumentError, Operations};

/// Bytes of parsed documents kept in memory (estimated from their text).
const BUDGET: u64 = 32 * 1024 * 1024;
/// A parsed document takes about this many times the bytes of its text.
const AST_FACTOR: usize = 12;
/// Validation outcomes kept (each a few dozen bytes).
const VALIDATIONS: u64 = 65_536;

/// A document that parsed and passed [`limits::check`].
#[derive(Debug)]
pub struct Prepared {
    /// Its text.
    pub query: Box<str>,
    /// The parsed document, directives of `__typename` moved (see [`limits::check`]).
    pub doc: ExecutableDocument,
    /// Its operations.
    pub operations: Operations,
    /// Whether its variables fit where they are used (checked once, against the schema).
    pub usages: std::sync::OnceLock<Result<(), DocumentError>>,
}

impl Prepared {
    /// The type of the operation a request names.
    pub fn kind(&self, operation_name: Option<&str>) -> Option<OperationType> {
        self.operations.kind(operation_name)
    }
}

/// The cache of prepared documents, and of their validation against the schema.
pub struct Documents {
    cache: moka::sync::Cache<u64, Arc<Prepared>>,
    hasher: std::hash::RandomState,
    /// Validations that passed, by [`Documents::validation_key`].
    validated: moka::sync::Cache<u128, ValidationResult>,
    /// A second, independent key for validations, so that two requests share an outcome only
    /// when both 64-bit hashes of (document, operation, variables) agree.
    second: std::hash::RandomState,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            cache: moka::sync::Cache::builder()
                .max_capacity(BUDGET)
                .weigher(|_, p: &Arc<Prepared>| u32::try_from(p.query.len() * AST_FACTOR + 256).unwrap_or(u32::MAX))
                .build(),
            hasher: std::hash::RandomState::new(),
            validated: moka::sync::Cache::new(VALIDATIONS),
            second: std::hash::RandomState::new(),
        }
    }
}

impl Documents {
    /// The prepared document of a text: from the cache, or scanned, parsed and checked now.
    pub fn prepare(&self, query: &str) -> Result<Arc<Prepared>, DocumentError> {
        let key = self.hasher.hash_one(query);
        if let Some(p) = self.cache.get(&key)
            && &*p.query == query
        {
            return Ok(p);
        }
        let (doc, operations) = limits::parse(query)?;
        let prepared = Arc::new(Prepared { query: query.into(), doc, operations, usages: Default::default() });
        self.cache.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// What a validation depends on besides the schema: the document's text, the operation
    /// run and the variables (their values count toward the complexity and the type checks).
    /// Keys are keyed hashes, which a client cannot aim at another request's.
    pub fn validation_key(&self, query: &str, operation_name: Option<&str>, variables: &[u8]) -> u128 {
        let parts = (query, operation_name, variables);
        (u128::from(self.hasher.hash_one(parts)) << 64) | u128::from(self.second.hash_one(parts))
    }

    /// A validation that passed for this key.
    pub fn validated(&self, key: u128) -> Option<ValidationResult> {
        self.validated.get(&key)
    }

    /// Keeps a validation that passed.
    pub fn remember_validation(&self, key: u128, result: ValidationResult) {
        self.validated.insert(key, result);
    }
}
