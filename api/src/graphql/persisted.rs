//! Automatic persisted queries (Apollo's protocol): a client sends the SHA-256 of a document
//! instead of the document; unknown hashes ask it to send both once. Documents are kept in Redis
//! when configured, so every instance knows them, and in process otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::shared::SharedStore;

/// How long a persisted document is kept in Redis.
const TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Documents kept in process.
const LOCAL_CAPACITY: usize = 10_000;

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedError {
    /// The hash is not known: send the document with it.
    NotFound,
    /// The extension is malformed or the hash does not match the document.
    Invalid(&'static str),
}

/// The store of persisted documents.
pub struct PersistedQueries {
    local: Mutex<HashMap<String, String>>,
    shared: SharedStore,
}

impl PersistedQueries {
    /// A store backed by the shared store (Redis) when it has one.
    pub fn new(shared: SharedStore) -> PersistedQueries {
        PersistedQueries { local: Mutex::new(HashMap::new()), shared }
    }

    fn remember(&self, hash: &str, query: &str) {
        if let Ok(mut local) = self.local.lock() {
            if local.len() >= LOCAL_CAPACITY {
                local.clear();
            }
            local.insert(hash.to_owned(), query.to_owned());
        }
    }

    /// Resolves the `persistedQuery` extension into the document to run.
    pub async fn resolve(&self, extension: &serde_json::Value, query: Option<&str>) -> Result<String, PersistedError> {
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
                let actual = hex(&Sha256::digest(query.as_bytes()));
                if actual != hash {
                    return Err(PersistedError::Invalid("persistedQuery.sha256Hash does not match the query"));
                }
                self.remember(&hash, query);
                self.shared.set(&format!("apq:{hash}"), query.as_bytes(), TTL).await;
                Ok(query.to_owned())
            }
            None => {
                if let Some(q) = self.local.lock().ok().and_then(|l| l.get(&hash).cloned()) {
                    return Ok(q);
                }
                let stored = self.shared.get(&format!("apq:{hash}")).await.ok_or(PersistedError::NotFound)?;
                let query = String::from_utf8(stored).map_err(|_| PersistedError::NotFound)?;
                self.remember(&hash, &query);
                Ok(query)
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn registers_then_resolves_by_hash() {
        let store = PersistedQueries::new(SharedStore::none());
        let query = "{ totems { name } }";
        let hash = hex(&Sha256::digest(query.as_bytes()));
        let ext = json!({ "version": 1, "sha256Hash": hash });
        assert_eq!(store.resolve(&ext, None).await, Err(PersistedError::NotFound));
        assert_eq!(store.resolve(&ext, Some(query)).await.as_deref(), Ok(query));
        assert_eq!(store.resolve(&ext, None).await.as_deref(), Ok(query));
        let wrong = json!({ "version": 1, "sha256Hash": "0".repeat(64) });
        assert!(matches!(store.resolve(&wrong, Some(query)).await, Err(PersistedError::Invalid(_))));
    }
}
