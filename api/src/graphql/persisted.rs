//! Automatic persisted queries (Apollo's protocol): a client sends the SHA-256 of a document
//! instead of the document; unknown hashes ask it to send both once. Documents are kept in Redis
//! when configured, so every instance knows them, and in process otherwise.
//!
//! A document is stored only after it ran without a request error (it parsed, it passed the
//! limits and validation), within a byte budget, and for a short while when its sender has no
//! key: anonymous clients cannot fill memory or Redis with junk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::shared::SharedStore;

/// How long a document registered with an API key is kept.
pub const KEYED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a document registered anonymously is kept.
pub const ANONYMOUS_TTL: Duration = Duration::from_secs(3600);
/// Bytes of documents kept in process.
const LOCAL_BUDGET: u64 = 16 * 1024 * 1024;

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is not known: send the document with it.
    NotFound,
    /// The extension is malformed or the hash does not match the document.
    Invalid(&'static str),
}

/// What a request's `persistedQuery` extension stands for.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A known document.
    Known(Arc<str>),
    /// A document sent with its hash: run it, then [`PersistedQueries::store`] it if it ran.
    Register {
        /// Its SHA-256, in lowercase hexadecimal.
        hash: String,
        /// The document.
        query: String,
    },
}

/// A document kept in process, with its lifetime.
#[derive(Clone)]
struct Entry {
    query: Arc<str>,
    ttl: Duration,
}

/// Entries expire after their own lifetime.
struct PerEntry;

impl moka::Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The store of persisted documents.
pub struct PersistedQueries {
    local: moka::sync::Cache<String, Entry>,
    shared: SharedStore,
}

impl PersistedQueries {
    /// A store backed by the shared store (Redis) when it has one.
    pub fn new(shared: SharedStore) -> PersistedQueries {
        let local = moka::sync::Cache::builder()
            .max_capacity(LOCAL_BUDGET)
            .weigher(|k: &String, v: &Entry| u32::try_from(k.len() + v.query.len() + 64).unwrap_or(u32::MAX))
            .expire_after(PerEntry)
            .build();
        PersistedQueries { local, shared }
    }

    /// Resolves the `persistedQuery` extension into the document to run.
    pub async fn resolve(&self, extension: &serde_json::Value, query: Option<&str>) -> Result<Lookup, PersistedError> {
        if extension.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
            return Err(PersistedError::Invalid("persistedQuery.version must be 1"));
        }
        let hash = extension
            .get("sha256Hash")
            .and_then(serde_json::Value::as_str)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(PersistedError::Invalid("persistedQuery.sha256Hash must be 64 hexadecimal digits"))?
            .to_ascii_lowercase();
        match query.filter(|q| !q.trim().is_empty()) {
            Some(query) => {
                if hex(&Sha256::digest(query.as_bytes())) != hash {
                    return Err(PersistedError::Invalid("persistedQuery.sha256Hash does not match the query"));
                }
                Ok(Lookup::Register { hash, query: query.to_owned() })
            }
            None => {
                if let Some(e) = self.local.get(&hash) {
                    return Ok(Lookup::Known(e.query));
                }
                let stored = self.shared.get(&key(&hash)).await.ok_or(PersistedError::NotFound)?;
                let query: Arc<str> = String::from_utf8(stored).map_err(|_| PersistedError::NotFound)?.into();
                // Known in Redis: it was checked when it was stored there.
                self.local.insert(hash, Entry { query: query.clone(), ttl: ANONYMOUS_TTL });
                Ok(Lookup::Known(query))
            }
        }
    }

    /// Keeps a document that ran, for as long as its sender's standing allows.
    pub async fn store(&self, hash: String, query: &str, keyed: bool) {
        let ttl = if keyed { KEYED_TTL } else { ANONYMOUS_TTL };
        self.shared.set(&key(&hash), query.as_bytes(), ttl).await;
        self.local.insert(hash, Entry { query: query.into(), ttl });
    }
}

fn key(hash: &str) -> String {
    format!("apq:{hash}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_document_is_known_by_its_hash_only_once_stored() {
        let store = PersistedQueries::new(SharedStore::none());
        let query = "{ totems { name } }";
        let hash = hex(&Sha256::digest(query.as_bytes()));
        let ext = json!({ "version": 1, "sha256Hash": hash });
        assert_eq!(store.resolve(&ext, None).await, Err(PersistedError::NotFound));
        assert_eq!(
            store.resolve(&ext, Some(query)).await,
            Ok(Lookup::Register { hash: hash.clone(), query: query.to_owned() })
        );
        // Sending it is not storing it: only a document that ran is stored.
        assert_eq!(store.resolve(&ext, None).await, Err(PersistedError::NotFound));
        store.store(hash, query, false).await;
        assert_eq!(store.resolve(&ext, None).await, Ok(Lookup::Known(query.into())));
        let wrong = json!({ "version": 1, "sha256Hash": "0".repeat(64) });
        assert!(matches!(store.resolve(&wrong, Some(query)).await, Err(PersistedError::Invalid(_))));
    }
}
