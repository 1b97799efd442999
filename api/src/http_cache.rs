//! Encoded responses (tiles, GeoJSON layers) kept by a typed key, in Redis when configured and in
//! process (moka: bounded by bytes, keys counted, one encoding per key when many requests miss
//! at once), served with `ETag` / `If-None-Match` and `Cache-Control`.
//!
//! A key carries the catalog version its content was built from, so a write never leaves an old
//! tile behind; only validated parameters reach a key, and every entry weighs its key as well as
//! its body, so what clients send cannot grow the process past its budget.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::error::{Error, Result};
use crate::shared::SharedStore;

/// Lifetime of an entry in Redis: versions move on and old keys expire.
const SHARED_TTL: Duration = Duration::from_secs(3600);
/// What an entry costs beyond its key and body (the map's own bookkeeping).
const ENTRY_OVERHEAD: usize = 160;

/// What an entry holds.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CacheKind {
    /// A vector tile.
    Tile,
    /// A GeoJSON layer.
    Layer,
    /// A partner feed.
    Feed,
}

impl EncodeLabelValue for CacheKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.code(), encoder)
    }
}

impl CacheKind {
    fn code(self) -> &'static str {
        match self {
            CacheKind::Tile => "tile",
            CacheKind::Layer => "layer",
            CacheKind::Feed => "feed",
        }
    }
}

/// The key of an entry: what it is, the catalog version it reflects, and its checked
/// parameters in a canonical form.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct CacheKey {
    /// What it holds.
    pub kind: CacheKind,
    /// The catalog version its content reflects.
    pub version: i64,
    /// The validated parameters that shaped it, canonical (`offers,routes/14/8347/5529/fr/false`).
    pub params: Box<str>,
}

impl CacheKey {
    /// A key.
    pub fn new(kind: CacheKind, version: i64, params: impl Into<Box<str>>) -> CacheKey {
        CacheKey { kind, version, params: params.into() }
    }

    fn shared(&self) -> String {
        format!("{}:{}:{}", self.kind.code(), self.version, self.params)
    }

    /// A strong validator: the content is a function of the key, so the key names it.
    pub fn etag(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.params.hash(&mut h);
        format!("\"{}-{}-{:016x}\"", self.kind.code(), self.version, h.finish())
    }
}

/// A cached body and its validators.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The encoded body.
    pub body: Bytes,
    /// Strong validator.
    pub etag: Arc<str>,
    /// When its newest content changed (feeds).
    pub last_modified: Option<DateTime<Utc>>,
    /// The next page, for a `Link: <…>; rel="next"` header (feeds).
    pub next: Option<Arc<str>>,
}

/// What an encoder gives.
#[derive(Debug, Default)]
pub struct Built {
    /// The body.
    pub body: Vec<u8>,
    /// When its newest content changed.
    pub last_modified: Option<DateTime<Utc>>,
    /// The next page's address.
    pub next: Option<String>,
}

impl From<Vec<u8>> for Built {
    fn from(body: Vec<u8>) -> Built {
        Built { body, ..Built::default() }
    }
}

/// Labels of a cache lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// tile, layer or feed.
    pub kind: CacheKind,
    /// hit or miss.
    pub result: Lookup,
}

/// Whether a lookup was served without encoding.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Lookup {
    /// Served from the process or from Redis.
    Hit,
    /// Encoded anew.
    Miss,
}

impl EncodeLabelValue for Lookup {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&if *self == Lookup::Hit { "hit" } else { "miss" }, encoder)
    }
}

/// The cache of encoded responses.
pub struct ResponseCache {
    local: moka::future::Cache<CacheKey, Cached>,
    shared: SharedStore,
    /// `porte_du_hainaut_cache_requests_total{kind, result}`.
    pub requests: Family<CacheLabels, Counter>,
}

impl ResponseCache {
    /// A cache of at most `budget` bytes (keys, bodies and bookkeeping) in front of the shared store.
    pub fn new(shared: SharedStore, budget: u64) -> ResponseCache {
        let local = moka::future::Cache::builder()
            .max_capacity(budget)
            .weigher(|k: &CacheKey, v: &Cached| {
                u32::try_from(k.params.len() + v.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .build();
        ResponseCache { local, shared, requests: Family::default() }
    }

    fn count(&self, kind: CacheKind, result: Lookup) {
        self.requests.get_or_create(&CacheLabels { kind, result }).inc();
    }

    /// The cached body for a key, or the one `build` encodes (off the async threads); requests
    /// that miss the same key at once wait for one encoding.
    pub async fn get_or_build<F, B>(&self, key: CacheKey, build: F) -> Result<Cached>
    where
        F: FnOnce() -> B + Send + 'static,
        B: Into<Built> + Send + 'static,
    {
        if let Some(hit) = self.local.get(&key).await {
            self.count(key.kind, Lookup::Hit);
            return Ok(hit);
        }
        let encoded = AtomicBool::new(false);
        let kind = key.kind;
        // Feeds carry headers of their own and are cheap to rebuild: they stay in process.
        let shared = kind != CacheKind::Feed;
        let shared_key = key.shared();
        let etag: Arc<str> = key.etag().into();
        let value = self
            .local
            .try_get_with(key, async {
                if shared && let Some(bytes) = self.shared.get(&shared_key).await {
                    return Ok(Cached {
                        body: Bytes::from(bytes),
                        etag: etag.clone(),
                        last_modified: None,
                        next: None,
                    });
                }
                encoded.store(true, Ordering::Relaxed);
                let built: Built = tokio::task::spawn_blocking(move || build().into())
                    .await
                    .map_err(|e| Error::Internal(format!("encoder task: {e}")))?;
                if shared {
                    self.shared.set(&shared_key, &built.body, SHARED_TTL).await;
                }
                Ok::<_, Error>(Cached {
                    body: Bytes::from(built.body),
                    etag,
                    last_modified: built.last_modified,
                    next: built.next.map(Arc::from),
                })
            })
            .await
            .map_err(|e: Arc<Error>| Error::Internal(e.to_string()))?;
        self.count(kind, if encoded.load(Ordering::Relaxed) { Lookup::Miss } else { Lookup::Hit });
        Ok(value)
    }

    /// Entries and bytes held in process (for tests and metrics).
    pub async fn usage(&self) -> (u64, u64) {
        self.local.run_pending_tasks().await;
        (self.local.entry_count(), self.local.weighted_size())
    }
}

/// Whether `If-None-Match` names this validator.
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').map(str::trim).any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
    })
}

/// Whether `If-Modified-Since` (only looked at without `If-None-Match`) is at or after `modified`.
fn unmodified_since(headers: &HeaderMap, modified: Option<DateTime<Utc>>) -> bool {
    if headers.contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok());
    matches!((since, modified), (Some(s), Some(m)) if m.timestamp() <= s.timestamp())
}

/// An HTTP date.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Answers with the body, or 304 when the client already has it (by `If-None-Match`, or by
/// `If-Modified-Since` when the entry knows its date), with its validators and next page link.
pub fn conditional(
    headers: &HeaderMap,
    cached: &Cached,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut response = if not_modified(headers, &cached.etag) || unmodified_since(headers, cached.last_modified) {
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
    if let Some(v) = cached.last_modified.and_then(|t| HeaderValue::from_str(&http_date(t)).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = cached.next.as_ref().and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok()) {
        h.insert(header::LINK, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// A 304 for a request whose `If-None-Match` names what a key would hold, without building it.
pub fn known(headers: &HeaderMap, key: &CacheKey, cache_control: &'static str) -> Option<Response> {
    let etag = key.etag();
    if !not_modified(headers, &etag) {
        return None;
    }
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_count_in_the_budget_and_misses_encode_once() {
        let cache = Arc::new(ResponseCache::new(SharedStore::none(), 64 * 1024));
        // Empty bodies with long keys still fill the budget: the entry count stays bounded.
        for i in 0..2_000 {
            let key = CacheKey::new(CacheKind::Layer, 1, format!("{i}:{}", "x".repeat(1_000)));
            cache.get_or_build(key, Vec::new).await.expect("built");
        }
        let (entries, bytes) = cache.usage().await;
        assert!(bytes <= 64 * 1024, "{bytes} bytes held");
        assert!(entries < 100, "{entries} entries held");
        // Many requests missing one key at once encode it once.
        let encodings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, encodings) = (cache.clone(), encodings.clone());
                tokio::spawn(async move {
                    let key = CacheKey::new(CacheKind::Tile, 2, "offers/1/0/0");
                    cache
                        .get_or_build(key, move || {
                            encodings.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            vec![1, 2, 3]
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(&t.await.expect("task").expect("tile").body[..], &[1, 2, 3]);
        }
        assert_eq!(encodings.load(Ordering::SeqCst), 1);
    }
}
