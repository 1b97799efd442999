//! Encoded responses (tiles, GeoJSON layers) cached by catalog version, in Redis when configured
//! and in process otherwise, served with `ETag` / `If-None-Match` and `Cache-Control`. Keys carry
//! the catalog version, so a write can never leave an old tile behind.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::shared::SharedStore;

/// Bytes kept in process before the cache starts over.
const LOCAL_BUDGET: usize = 256 * 1024 * 1024;
/// Lifetime of an entry in Redis (versions move on; old keys expire).
const SHARED_TTL: Duration = Duration::from_secs(24 * 3600);

/// A cached body and its validator.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The encoded body.
    pub body: Bytes,
    /// Strong validator: a digest of the body.
    pub etag: String,
}

impl Cached {
    /// Wraps a body, computing its `ETag`.
    pub fn new(body: Bytes) -> Cached {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
        Cached { body, etag }
    }
}

/// Hit and miss counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Served from the process.
    pub local_hits: AtomicU64,
    /// Served from Redis.
    pub shared_hits: AtomicU64,
    /// Encoded anew.
    pub misses: AtomicU64,
}

/// The cache of encoded responses.
pub struct ResponseCache {
    /// Entries, their total size, and the catalog version they belong to.
    local: Mutex<(HashMap<String, Cached>, usize, i64)>,
    shared: SharedStore,
    /// Counters.
    pub stats: CacheStats,
}

impl ResponseCache {
    /// A cache in front of the shared store.
    pub fn new(shared: SharedStore) -> ResponseCache {
        ResponseCache { local: Mutex::new((HashMap::new(), 0, 0)), shared, stats: CacheStats::default() }
    }

    fn remember(&self, version: i64, key: &str, cached: &Cached) {
        if let Ok(mut guard) = self.local.lock() {
            let (map, bytes, current) = &mut *guard;
            if version < *current {
                return;
            }
            // Entries of older versions can never be asked for again: drop them.
            if version > *current || *bytes + cached.body.len() > LOCAL_BUDGET {
                map.clear();
                *bytes = 0;
                *current = version;
            }
            *bytes += cached.body.len();
            map.insert(key.to_owned(), cached.clone());
        }
    }

    /// The cached body for a key of a catalog version, or the one `build` encodes (off the async
    /// threads). The key must contain the version.
    pub async fn get_or_build<F>(&self, version: i64, key: &str, build: F) -> Result<Cached>
    where
        F: FnOnce() -> Vec<u8> + Send + 'static,
    {
        if let Some(hit) = self.local.lock().ok().and_then(|m| m.0.get(key).cloned()) {
            self.stats.local_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        if let Some(bytes) = self.shared.get(key).await {
            self.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
            let cached = Cached::new(Bytes::from(bytes));
            self.remember(version, key, &cached);
            return Ok(cached);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let body =
            tokio::task::spawn_blocking(build).await.map_err(|e| Error::Internal(format!("encoder task: {e}")))?;
        let cached = Cached::new(Bytes::from(body));
        self.remember(version, key, &cached);
        self.shared.set(key, &cached.body, SHARED_TTL).await;
        Ok(cached)
    }
}

/// Answers with the body, or 304 when the client already has it.
pub fn conditional(
    headers: &HeaderMap,
    cached: &Cached,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == cached.etag || t.trim() == "*" || t.trim().trim_start_matches("W/") == cached.etag)
    });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else if cached.body.is_empty() {
        // An empty tile or layer: nothing to draw.
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut r = Response::new(Body::from(cached.body.clone()));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cached.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
