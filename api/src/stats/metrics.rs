//! `GET /metrics` in the Prometheus text format: requests by route and status, latencies, tile
//! and layer cache hits, catalog version and size, QR scans.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::{EntityTrait, QuerySelect};

use crate::state::AppState;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (not the raw path: ids would explode the series).
    pub route: String,
    /// HTTP status.
    pub status: u16,
}

/// Labels of a latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route pattern.
    pub route: String,
}

/// The metrics of the process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    catalog_version: Gauge,
    catalog_offers: Gauge,
    qr_scans: Gauge,
    /// Tiles answered from the cache before the router (`tiles::hot`).
    pub hot_tiles: Counter,
}

impl Metrics {
    /// The registry, with the cache's lookup counters (`cache_requests_total{kind, result}`).
    pub fn new(cache: &crate::http_cache::ResponseCache) -> Self {
        let mut registry = Registry::with_prefix("porte_du_hainaut");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let m = Metrics {
            requests: requests.clone(),
            latency: latency.clone(),
            catalog_version: Gauge::default(),
            catalog_offers: Gauge::default(),
            qr_scans: Gauge::default(),
            hot_tiles: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("http_requests", "HTTP requests by route and status", requests);
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency);
        registry.register(
            "cache_requests",
            "Cached responses asked for, by kind (tile, layer, feed) and result (hit: served without encoding)",
            cache.requests.clone(),
        );
        registry.register("catalog_version", "Version of the catalog snapshot served", m.catalog_version.clone());
        registry.register("catalog_offers", "Published offers in the catalog snapshot", m.catalog_offers.clone());
        registry.register("qr_scans", "QR resolutions recorded in the database", m.qr_scans.clone());
        registry.register(
            "hot_tiles",
            "Tiles answered from this process's cache before the router (counted in http_requests too)",
            m.hot_tiles.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The series of one route, looked up once: what a path answered before the router counts
    /// with.
    pub fn route(&self, route: &str) -> RouteMetrics {
        let counter =
            |status: u16| self.requests.get_or_create(&RequestLabels { route: route.to_owned(), status }).clone();
        RouteMetrics {
            route: route.into(),
            ok: counter(200),
            empty: counter(204),
            not_modified: counter(304),
            requests: self.requests.clone(),
            latency: self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).clone(),
        }
    }
}

/// The request counters and latency histogram of one route, resolved in advance for the
/// statuses a cached answer has (200, 204, 304); the same series as the middleware's.
#[derive(Clone)]
pub struct RouteMetrics {
    route: Box<str>,
    ok: Counter,
    empty: Counter,
    not_modified: Counter,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
}

impl RouteMetrics {
    /// Counts one answer of `status` that took `latency`.
    pub fn observe(&self, status: u16, latency: Duration) {
        match status {
            200 => self.ok.inc(),
            204 => self.empty.inc(),
            304 => self.not_modified.inc(),
            _ => self.requests.get_or_create(&RequestLabels { route: self.route.to_string(), status }).inc(),
        };
        self.latency.observe(latency.as_secs_f64());
    }
}

/// Middleware: counts and times every request by its route pattern.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    state.metrics.requests.get_or_create(&RequestLabels { route: route.clone(), status }).inc();
    state.metrics.latency.get_or_create(&RouteLabels { route }).observe(start.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let catalog = state.catalog.get();
    m.catalog_version.set(catalog.version);
    m.catalog_offers.set(i64::try_from(catalog.len()).unwrap_or(i64::MAX));
    let scans: Option<i64> = entities::prelude::QrScan::find()
        .select_only()
        .column_as(sea_orm::sea_query::Expr::cust("CAST(COALESCE(SUM(count), 0) AS BIGINT)"), "total")
        .into_tuple::<i64>()
        .one(&state.db)
        .await
        .ok()
        .flatten();
    m.qr_scans.set(scans.unwrap_or(0));
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &m.registry).is_err() {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
