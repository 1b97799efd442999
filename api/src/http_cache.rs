//! Encoded responses (tiles, GeoJSON layers) kept by a typed key, in Redis when configured and in
//! process (moka: bounded by bytes, keys counted, one encoding per key when many requests miss
//! at once), served with `ETag` / `If-None-Match` and `Cache-Control`.
//!
//! A key carries the catalog version its content was built from, so a write never leaves an old
//! tile behind; only validated parameters reach a key, and every entry weighs its key as well as
//! its body, so what clients send cannot grow the process past its budget.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
    /// The body's other representations and their validators.
    representations: Arc<Representations>,
}

/// A cached body as one request gets it.
#[derive(Debug)]
pub struct Representation {
    /// The body in `coding`.
    pub body: Bytes,
    /// Its content coding.
    pub coding: Coding,
    /// Its `ETag`.
    pub etag: Option<HeaderValue>,
}

/// The compressed copies of a cached body (each made once, when first asked for) and the `ETag`
/// header of each representation, built with the entry rather than on every hit.
#[derive(Debug)]
struct Representations {
    gzip: OnceLock<Bytes>,
    br: OnceLock<Bytes>,
    etags: [Option<HeaderValue>; 3],
}

impl Cached {
    /// An entry.
    pub fn new(body: Bytes, etag: Arc<str>, last_modified: Option<DateTime<Utc>>, next: Option<Arc<str>>) -> Cached {
        let etags =
            [Coding::Identity, Coding::Gzip, Coding::Brotli].map(|c| HeaderValue::from_str(&c.etag(&etag)).ok());
        let representations = Arc::new(Representations { gzip: OnceLock::new(), br: OnceLock::new(), etags });
        Cached { body, etag, last_modified, next, representations }
    }

    /// Where the copy in a coding is kept (none for the body as is).
    fn slot(&self, coding: Coding) -> Option<&OnceLock<Bytes>> {
        match coding {
            Coding::Identity => None,
            Coding::Gzip => Some(&self.representations.gzip),
            Coding::Brotli => Some(&self.representations.br),
        }
    }

    /// The coding a request that accepts `coding` gets: none for a small body.
    fn coding_for(&self, coding: Coding) -> Coding {
        if self.body.len() >= COMPRESS_FROM { coding } else { Coding::Identity }
    }

    /// Bytes held in compressed copies.
    fn compressed_len(&self) -> usize {
        let r = &self.representations;
        r.gzip.get().map_or(0, Bytes::len) + r.br.get().map_or(0, Bytes::len)
    }

    /// Makes the copy in `coding` unless it is there (or not wanted); whether it made it.
    async fn make(&self, coding: Coding) -> bool {
        let coding = self.coding_for(coding);
        let Some(slot) = self.slot(coding) else { return false };
        if slot.get().is_some() {
            return false;
        }
        self.body_in(coding).await;
        true
    }

    /// What a request that accepts `coding` gets: the body (empty for an empty entry), its
    /// content coding and its validator.
    pub async fn representation(&self, coding: Coding) -> Representation {
        let coding = self.coding_for(coding);
        Representation { body: self.body_in(coding).await, coding, etag: self.etag_header(coding) }
    }

    fn etag_header(&self, coding: Coding) -> Option<HeaderValue> {
        self.representations.etags[coding as usize].clone()
    }

    /// The body in a content coding: compressed on the first request that asks for it (off the
    /// async threads when large), then kept with the entry, so a hot tile or layer is never
    /// compressed twice.
    async fn body_in(&self, coding: Coding) -> Bytes {
        let Some(slot) = self.slot(coding) else { return self.body.clone() };
        if let Some(b) = slot.get() {
            return b.clone();
        }
        let body = self.body.clone();
        let made = if body.len() > COMPRESS_INLINE {
            tokio::task::spawn_blocking(move || coding.compress(&body)).await.ok()
        } else {
            Some(coding.compress(&body))
        };
        match made {
            Some(b) => slot.get_or_init(|| b).clone(),
            None => self.body.clone(),
        }
    }
}

/// Bodies up to this size are compressed on the request's thread (well under a millisecond).
const COMPRESS_INLINE: usize = 16 * 1024;
/// Bodies under this size go as they are (compression would not pay for its header).
const COMPRESS_FROM: usize = 256;

/// A content coding of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// As is.
    Identity = 0,
    /// gzip (RFC 1952).
    Gzip = 1,
    /// Brotli (RFC 7932).
    Brotli = 2,
}

impl Coding {
    /// The best coding a request accepts (`Accept-Encoding`, with its q-values): Brotli, then
    /// gzip, else none.
    pub fn negotiate(headers: &HeaderMap) -> Coding {
        let (mut br, mut gzip, mut any) = (None, None, None);
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let acceptable = Some(q > 0.0);
                match name.as_str() {
                    "br" => br = acceptable,
                    "gzip" | "x-gzip" => gzip = acceptable,
                    "*" => any = acceptable,
                    _ => {}
                }
            }
        }
        if br.or(any) == Some(true) {
            Coding::Brotli
        } else if gzip.or(any) == Some(true) {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    /// Its `Content-Encoding` (none for the body as is).
    pub fn token(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }

    /// The validator of the body in this coding: a strong `ETag` names one representation, and
    /// a compressed body is another one.
    fn etag(self, etag: &str) -> String {
        match (self.token(), etag.strip_suffix('"')) {
            (Some(t), Some(open)) => format!("{open}-{t}\""),
            _ => etag.to_owned(),
        }
    }

    fn compress(self, body: &[u8]) -> Bytes {
        use std::io::Write;
        match self {
            Coding::Identity => Bytes::copy_from_slice(body),
            Coding::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::new(6));
                // Writing to a Vec cannot fail.
                let _ = e.write_all(body);
                Bytes::from(e.finish().unwrap_or_default())
            }
            Coding::Brotli => {
                let mut out = Vec::with_capacity(body.len() / 3);
                let params = brotli::enc::BrotliEncoderParams { quality: 5, lgwin: 22, ..Default::default() };
                let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
                Bytes::from(out)
            }
        }
    }
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
    /// Keys hashed with foldhash (seeded per process): SipHash of the key was a measurable part
    /// of a hot tile.
    local: moka::future::Cache<CacheKey, Cached, foldhash::fast::RandomState>,
    shared: SharedStore,
    /// A budget of 0 turns caching off: every response is made for its request.
    off: bool,
    /// `porte_du_hainaut_cache_requests_total{kind, result}`.
    pub requests: Family<CacheLabels, Counter>,
    /// The series of `requests`, each looked up once, when first counted (by kind, then miss or hit).
    series: [[OnceLock<Counter>; 2]; 3],
    /// What encodings of each class have cost lately.
    costs: Costs,
}

/// What a caller knows of an encoding's cost before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Nothing: it runs off the async threads.
    Unknown,
    /// About what the other encodings of its class cost (the tiles of one zoom level). It runs on
    /// the async thread when they have lately taken under [`LIGHT`]: handing a job to the
    /// blocking pool and waking the request again costs more than encoding a small tile (a
    /// profile of cold z16 tiles put two thirds of the server's time in the hand-over).
    Like(u8),
}

/// The most an encoding may take, on average in its class, to run on an async thread: the upper
/// end of Tokio's advice (10 to 100 µs between awaits), where the hand-over to the blocking pool
/// (a futex wake each way and its lock, tens of microseconds under load) still costs as much as
/// a fair share of the work.
pub const LIGHT: Duration = Duration::from_micros(100);

/// Classes of [`Cost::Like`] that are followed (zoom levels 0 to 31).
const CLASSES: usize = 32;

/// A class not yet measured.
const UNMEASURED: u32 = u32::MAX;

/// The recent cost of the encodings of each class, in microseconds: a moving average that gives
/// each new measure an eighth of the weight. Updates race (relaxed loads and stores): a lost
/// measure changes nothing that matters.
struct Costs([AtomicU32; CLASSES]);

impl Default for Costs {
    fn default() -> Costs {
        Costs(std::array::from_fn(|_| AtomicU32::new(UNMEASURED)))
    }
}

impl Costs {
    /// Whether the encodings of `cost`'s class are light.
    fn light(&self, cost: Cost) -> bool {
        let Cost::Like(class) = cost else { return false };
        self.0.get(usize::from(class)).is_some_and(|a| u128::from(a.load(Ordering::Relaxed)) < LIGHT.as_micros())
    }

    /// Counts an encoding of `cost`'s class that took `took`.
    fn record(&self, cost: Cost, took: Duration) {
        let Cost::Like(class) = cost else { return };
        let Some(average) = self.0.get(usize::from(class)) else { return };
        let now = u32::try_from(took.as_micros()).unwrap_or(UNMEASURED - 1);
        let before = average.load(Ordering::Relaxed);
        let next = if before == UNMEASURED { now } else { before - before / 8 + now / 8 };
        average.store(next, Ordering::Relaxed);
    }
}

impl ResponseCache {
    /// A cache of at most `budget` bytes (keys, bodies and bookkeeping) in front of the shared
    /// store; with a budget of 0 nothing is cached, locally or in the shared store.
    pub fn new(shared: SharedStore, budget: u64) -> ResponseCache {
        let local = moka::future::Cache::builder()
            .max_capacity(budget)
            .weigher(|k: &CacheKey, v: &Cached| {
                u32::try_from(k.params.len() + v.body.len() + v.compressed_len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .build_with_hasher(foldhash::fast::RandomState::default());
        ResponseCache {
            local,
            shared,
            off: budget == 0,
            requests: Family::default(),
            series: Default::default(),
            costs: Costs::default(),
        }
    }

    fn count(&self, kind: CacheKind, result: Lookup) {
        self.series[kind as usize][usize::from(result == Lookup::Hit)]
            .get_or_init(|| self.requests.get_or_create(&CacheLabels { kind, result }).clone())
            .inc();
    }

    /// The entry of a key held in this process, counted as a hit, with its body in `coding`
    /// when the request accepts one (a copy made for it is weighed in the budget: the entry is
    /// stored again with its new weight); `None` when it is not held here (nothing is counted).
    pub async fn hit(&self, key: &CacheKey, coding: Coding) -> Option<Cached> {
        if self.off {
            return None;
        }
        let hit = self.local.get(key).await?;
        self.count(key.kind, Lookup::Hit);
        if hit.make(coding).await {
            self.local.insert(key.clone(), hit.clone()).await;
        }
        Some(hit)
    }

    /// The cached body for a key, or the one `build` encodes (off the async threads); requests
    /// that miss the same key at once wait for one encoding.
    /// The entry also holds its body in `coding` when the request accepts one; a copy made for
    /// it is weighed in the budget (the entry is stored again with its new weight).
    pub async fn get_or_build<F, B>(&self, key: CacheKey, coding: Coding, build: F) -> Result<Cached>
    where
        F: FnOnce() -> B + Send + 'static,
        B: Into<Built> + Send + 'static,
    {
        self.get_or_build_costing(key, coding, Cost::Unknown, build).await
    }

    /// As [`get_or_build`](Self::get_or_build), for an encoding whose cost is like that of the
    /// others of its class: it runs on the async thread while they are light.
    pub async fn get_or_build_costing<F, B>(
        &self,
        key: CacheKey,
        coding: Coding,
        cost: Cost,
        build: F,
    ) -> Result<Cached>
    where
        F: FnOnce() -> B + Send + 'static,
        B: Into<Built> + Send + 'static,
    {
        if self.off {
            self.count(key.kind, Lookup::Miss);
            let built = self.encode(cost, build).await?;
            let made =
                Cached::new(Bytes::from(built.body), key.etag().into(), built.last_modified, built.next.map(Arc::from));
            made.make(coding).await;
            return Ok(made);
        }
        if let Some(hit) = self.hit(&key, coding).await {
            return Ok(hit);
        }
        let again = key.clone();
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
                    return Ok(Cached::new(Bytes::from(bytes), etag.clone(), None, None));
                }
                encoded.store(true, Ordering::Relaxed);
                let built = self.encode(cost, build).await?;
                if shared {
                    self.shared.set(&shared_key, &built.body, SHARED_TTL).await;
                }
                Ok::<_, Error>(Cached::new(
                    Bytes::from(built.body),
                    etag,
                    built.last_modified,
                    built.next.map(Arc::from),
                ))
            })
            .await
            .map_err(|e: Arc<Error>| Error::Internal(e.to_string()))?;
        self.count(kind, if encoded.load(Ordering::Relaxed) { Lookup::Miss } else { Lookup::Hit });
        if value.make(coding).await {
            self.local.insert(again, value.clone()).await;
        }
        Ok(value)
    }

    /// Runs an encoder: here when its class is light, else off the async threads; its time
    /// counts for its class.
    async fn encode<F, B>(&self, cost: Cost, build: F) -> Result<Built>
    where
        F: FnOnce() -> B + Send + 'static,
        B: Into<Built> + Send + 'static,
    {
        let timed = move || {
            let start = Instant::now();
            let built: Built = build().into();
            (built, start.elapsed())
        };
        let (built, took) = if self.costs.light(cost) {
            timed()
        } else {
            tokio::task::spawn_blocking(timed).await.map_err(|e| Error::Internal(format!("encoder task: {e}")))?
        };
        self.costs.record(cost, took);
        Ok(built)
    }

    /// Entries and bytes held in process (for tests and metrics).
    pub async fn usage(&self) -> (u64, u64) {
        self.local.run_pending_tasks().await;
        (self.local.entry_count(), self.local.weighted_size())
    }
}

/// Whether `If-None-Match` names this validator, in any of its codings (the comparison is weak,
/// as RFC 9110 wants for `If-None-Match`: the same content compressed otherwise is still fresh).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let names = |t: &str| {
        let t = t.trim_start_matches("W/");
        t == etag
            || etag
                .strip_suffix('"')
                .is_some_and(|open| t.strip_prefix(open).is_some_and(|coding| coding == "-gzip\"" || coding == "-br\""))
    };
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == "*" || names(t)))
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
/// The body goes in `coding` (what the request accepts, [`Coding::negotiate`]), compressed once
/// per entry.
pub async fn conditional(
    headers: &HeaderMap,
    cached: &Cached,
    coding: Coding,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut response = if not_modified(headers, &cached.etag) || unmodified_since(headers, cached.last_modified) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Some(v) = cached.etag_header(cached.coding_for(coding)) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    } else {
        answer(cached.representation(coding).await, content_type)
    };
    let h = response.headers_mut();
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

/// The unconditional answer of a representation, with its `ETag`: its body with its media type
/// and coding, or 204 for an empty body (an empty tile or layer: nothing to draw).
pub fn answer(representation: Representation, content_type: &'static str) -> Response {
    let Representation { body, coding, etag } = representation;
    let mut r = if body.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(token) = coding.token() {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        r
    };
    if let Some(v) = etag {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// A 304 for a request whose `If-None-Match` names what a key would hold, without building it.
pub fn known(headers: &HeaderMap, key: &CacheKey, cache_control: &'static str) -> Option<Response> {
    if !headers.contains_key(header::IF_NONE_MATCH) {
        return None;
    }
    let etag = key.etag();
    if !not_modified(headers, &etag) {
        return None;
    }
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    let h = r.headers_mut();
    // The validator of the representation the request would have got (a small body goes as it
    // is, whatever the request accepts, but the client named the one it holds).
    let named = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).unwrap_or("");
    let coding = [Coding::Brotli, Coding::Gzip].into_iter().find(|c| named.contains(&c.etag(&etag)));
    let etag = coding.map_or(etag.clone(), |c| c.etag(&etag));
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

    fn accepting(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn a_request_gets_the_best_coding_it_accepts() {
        assert_eq!(Coding::negotiate(&HeaderMap::new()), Coding::Identity);
        for (accept, coding) in [
            ("gzip, deflate, br, zstd", Coding::Brotli),
            ("gzip", Coding::Gzip),
            ("x-gzip", Coding::Gzip),
            ("br;q=0, gzip;q=0.5", Coding::Gzip),
            ("*;q=0", Coding::Identity),
            ("*", Coding::Brotli),
            ("*, br;q=0", Coding::Gzip),
            ("identity", Coding::Identity),
            ("deflate, zstd", Coding::Identity),
            ("GZIP; Q=0.8", Coding::Gzip),
        ] {
            assert_eq!(Coding::negotiate(&accepting(accept)), coding, "{accept}");
        }
    }

    #[tokio::test]
    async fn a_budget_of_zero_makes_every_response_for_its_request() {
        let cache = ResponseCache::new(SharedStore::none(), 0);
        let builds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let key = CacheKey::new(CacheKind::Tile, 1, "offers/12/2088/1372");
        for _ in 0..3 {
            let b = builds.clone();
            let made = cache
                .get_or_build(key.clone(), Coding::Gzip, move || {
                    b.fetch_add(1, Ordering::Relaxed);
                    vec![7u8; 4096]
                })
                .await
                .expect("built");
            assert_eq!(made.body.len(), 4096);
            assert!(!made.body_in(Coding::Gzip).await.is_empty(), "the coding asked for is made too");
        }
        assert_eq!(builds.load(Ordering::Relaxed), 3, "nothing answered from a cache");
        assert_eq!(cache.usage().await, (0, 0));
        let misses = cache.requests.get_or_create(&CacheLabels { kind: CacheKind::Tile, result: Lookup::Miss }).get();
        assert_eq!(misses, 3);
    }

    #[tokio::test]
    async fn compressed_copies_count_in_the_budget() {
        let cache = ResponseCache::new(SharedStore::none(), 1 << 20);
        let body: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 1013).to_le_bytes()).collect();
        let key = CacheKey::new(CacheKind::Layer, 1, "offers");
        let b = body.clone();
        cache.get_or_build(key.clone(), Coding::Identity, move || b).await.expect("built");
        let (_, plain) = cache.usage().await;
        let hit = cache.get_or_build(key.clone(), Coding::Gzip, Vec::new).await.expect("hit");
        let (entries, with_gzip) = cache.usage().await;
        assert_eq!(entries, 1);
        let gzip = hit.body_in(Coding::Gzip).await.len();
        assert!(gzip > 0 && gzip < body.len());
        assert_eq!(with_gzip - plain, gzip as u64, "the copy weighs what it holds");
    }

    #[tokio::test]
    async fn compressed_bodies_decode_to_the_body_and_carry_their_own_validator() {
        use std::io::Read;
        let body: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let cached = Cached::new(Bytes::from(body.clone()), Arc::from("\"tile-3-00ff\""), None, None);
        let gz = cached.body_in(Coding::Gzip).await;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).expect("gzip");
        assert_eq!(out, body);
        let br = cached.body_in(Coding::Brotli).await;
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut out).expect("brotli");
        assert_eq!(out, body);
        assert!(gz.len() < body.len() && br.len() < body.len());
        // Made once: the second ask gives the same bytes.
        assert_eq!(cached.body_in(Coding::Brotli).await.as_ptr(), br.as_ptr());
        assert_eq!(Coding::Gzip.etag(&cached.etag), "\"tile-3-00ff-gzip\"");
        // Any coding's validator says the client is up to date.
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"tile-3-00ff-br\""));
        assert!(not_modified(&h, &cached.etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"tile-4-00ff-br\""));
        assert!(!not_modified(&h, &cached.etag));
    }

    #[tokio::test]
    async fn keys_count_in_the_budget_and_misses_encode_once() {
        let cache = Arc::new(ResponseCache::new(SharedStore::none(), 64 * 1024));
        // Empty bodies with long keys still fill the budget: the entry count stays bounded.
        for i in 0..2_000 {
            let key = CacheKey::new(CacheKind::Layer, 1, format!("{i}:{}", "x".repeat(1_000)));
            cache.get_or_build(key, Coding::Identity, Vec::new).await.expect("built");
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
                        .get_or_build(key, Coding::Identity, move || {
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

    #[test]
    fn a_class_runs_here_once_its_encodings_are_measured_light_and_leaves_when_they_grow() {
        let costs = Costs::default();
        let z16 = Cost::Like(16);
        assert!(!costs.light(z16), "not measured yet: off the async threads");
        costs.record(z16, Duration::from_micros(8));
        assert!(costs.light(z16));
        assert!(!costs.light(Cost::Like(15)), "each class on its own");
        // Tiles that grow heavier move the class back off the async threads within a few.
        let mut moved = 0;
        while costs.light(z16) {
            costs.record(z16, Duration::from_millis(2));
            moved += 1;
        }
        assert_eq!(moved, 1, "one encoding of 2 ms outweighs light ones of 8 µs");
        // And light ones bring it back, more slowly.
        let mut back = 0;
        while !costs.light(z16) {
            costs.record(z16, Duration::from_micros(8));
            back += 1;
        }
        assert!((3..40).contains(&back), "{back}");
        costs.record(Cost::Unknown, Duration::ZERO);
        assert!(!costs.light(Cost::Unknown), "an unknown cost always runs off the async threads");
        costs.record(Cost::Like(200), Duration::ZERO);
        assert!(!costs.light(Cost::Like(200)), "a class beyond those followed");
    }

    #[tokio::test]
    async fn a_light_tile_is_encoded_on_the_async_thread_and_a_heavy_one_off_it() {
        let cache = ResponseCache::new(SharedStore::none(), 0);
        let thread = |cost| {
            let cache = &cache;
            async move {
                let key = CacheKey::new(CacheKind::Tile, 1, "offers/16/1/1/fr/false");
                let here = std::thread::current().id();
                let cached = cache
                    .get_or_build_costing(key, Coding::Identity, cost, move || {
                        vec![u8::from(std::thread::current().id() == here)]
                    })
                    .await
                    .expect("built");
                cached.body[0] == 1
            }
        };
        assert!(!thread(Cost::Like(16)).await, "the first of its class is measured off the async threads");
        assert!(thread(Cost::Like(16)).await, "then encoded where the request runs");
        assert!(!thread(Cost::Unknown).await);
    }
}
