//! The lane of hot tiles: a map draws dozens of tiles a second, most of them already encoded in
//! this process's cache, and each crossed the router's dozen layers (a boxed future, a clone of
//! the service and a header map of its own each) for what is a lookup and a copy of a few
//! headers. Before the router, a `GET` of a tile the cache holds is answered here with the
//! same answer, headers, counts and log line as the router's; everything else goes on to it.
//!
//! What keeps the two the same: the quota is counted once, here, and handed on
//! ([`auth::Admission`]); the body and validators come from the handler's own functions
//! (`TileRequest`, `known`, `conditional`), the other headers from the router's own (`dress`,
//! and tower-http's CORS layer, run on the answer); the counts go to the same series. The
//! headers every unconditional answer shares are made once, when the lane is built, by those
//! same functions and layer (with `CORS_ORIGINS` at `*` they depend on nothing in the request).
//! A request with a key, from a refused origin, with a path to decode or a query that does not
//! read goes on to the router, which answers it in full.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::Either;
use prometheus_client::metrics::counter::Counter;
use tower::util::Oneshot;
use tower::{Layer as _, Service, ServiceExt};
use tower_http::cors::CorsLayer;

use super::{MapParams, TILE_CACHE_CONTROL, TILE_MEDIA_TYPE, TileRequest};
use crate::auth::{self, Admission};
use crate::config::Config;
use crate::http_cache::{Cached, Coding, Representation, conditional, known};
use crate::server::{TILE_ROUTE, access_log, access_span, dress};
use crate::state::AppState;
use crate::stats::metrics::RouteMetrics;

/// The application: hot tiles answered here, the rest by the router.
///
/// A clone shares the reference count of the lane it was cloned from, which every request
/// increments and decrements: the server makes a lane of its own for each connection
/// ([`Lane::for_connection`]), so that two threads do not fight over one counter at every hot
/// tile.
#[derive(Clone)]
pub struct Lane(Arc<Tiles>);

impl Lane {
    /// The lane in front of `router` (every route, every layer); `cors` is the router's CORS
    /// layer, run on the lane's answers.
    pub fn new(state: AppState, cors: CorsLayer, router: Router) -> Lane {
        let metrics = state.metrics.route(TILE_ROUTE);
        let answered = state.metrics.hot_tiles.clone();
        let templates = Templates::new(&state.config, &cors);
        let shared = Shared { state, metrics, answered, cors, templates, router };
        Lane(Arc::new(Tiles(Arc::new(shared))))
    }

    /// The same lane with a reference count of its own, for one connection's requests.
    pub fn for_connection(&self) -> Lane {
        Lane(Arc::new(Tiles(self.0.0.clone())))
    }
}

/// The future of an answer.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl Service<Request> for Lane {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Answer, Oneshot<Router, Request>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both are always ready (axum's router is; `Tiles` is).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if is_tile_get(&req) {
            Either::Left(Tiles::call(self.0.clone(), req))
        } else {
            Either::Right(self.0.0.router.clone().oneshot(req))
        }
    }
}

/// Whether the request is a plain `GET /tiles/{layers}/{z}/{x}/{y}`: four non-empty segments,
/// nothing percent-encoded.
fn is_tile_get(req: &Request) -> bool {
    if req.method() != Method::GET {
        return false;
    }
    let Some(rest) = req.uri().path().strip_prefix("/tiles/") else { return false };
    let (mut slashes, mut previous) = (0, b'/');
    for &b in rest.as_bytes() {
        match b {
            b'%' => return false,
            b'/' if previous == b'/' => return false,
            b'/' => slashes += 1,
            _ => {}
        }
        previous = b;
    }
    slashes == 3 && previous != b'/'
}

/// The headers of an unconditional tile answer that do not depend on the tile, as the router
/// sets them; `None` when they depend on the request (a list of origins).
struct Templates {
    /// A tile with a body (`Content-Encoding` apart; the `ETag` a placeholder).
    body: HeaderMap,
    /// An empty tile, 204 (the `ETag` a placeholder).
    empty: HeaderMap,
}

impl Templates {
    /// Runs an answer of each kind through the router's functions and CORS layer.
    fn new(config: &Config, cors: &CorsLayer) -> Option<Templates> {
        if config.cors_list().is_some() {
            return None;
        }
        let headers = |body: &'static [u8]| -> Option<HeaderMap> {
            let cached = Cached::new(Bytes::from_static(body), Arc::from("\"template\""), None, None);
            let mut response =
                conditional(&HeaderMap::new(), &cached, Coding::Identity, TILE_MEDIA_TYPE, TILE_CACHE_CONTROL)
                    .now_or_never()?;
            // The `ETag` stays as a placeholder: each answer's replaces it in place, where an
            // insertion would grow the cloned map.
            dress(config, &mut response);
            let mut response = with_cors(cors, &Request::new(Body::empty()).into_parts().0, response).now_or_never()?;
            Some(std::mem::take(response.headers_mut()))
        };
        Some(Templates { body: headers(b"t")?, empty: headers(b"")? })
    }

    /// The answer of a representation on these headers.
    fn answer(&self, representation: Representation) -> Response {
        let Representation { body, coding, etag } = representation;
        let mut response = if body.is_empty() {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            *r.headers_mut() = self.empty.clone();
            r
        } else {
            let mut r = Response::new(Body::from(body));
            *r.headers_mut() = self.body.clone();
            if let Some(token) = coding.token() {
                r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
            }
            r
        };
        match etag {
            Some(v) => response.headers_mut().insert(header::ETAG, v),
            None => response.headers_mut().remove(header::ETAG),
        };
        response
    }
}

/// `response` as the CORS layer gives it for the request of `parts`.
async fn with_cors(cors: &CorsLayer, parts: &Parts, response: Response) -> Response {
    let mut req = Request::new(Body::empty());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.headers_mut() = parts.headers.clone();
    let mut response = Some(response);
    let answer = tower::service_fn(move |_: Request| {
        std::future::ready(Ok::<_, Infallible>(response.take().unwrap_or_default()))
    });
    match cors.layer(answer).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// The tile route: a held tile answered at once, any other request by the router.
struct Tiles(Arc<Shared>);

/// What the tile route holds, shared by every connection's lane.
struct Shared {
    state: AppState,
    metrics: RouteMetrics,
    answered: Counter,
    cors: CorsLayer,
    templates: Option<Templates>,
    router: Router,
}

impl Tiles {
    fn call(tiles: Arc<Tiles>, mut req: Request) -> Answer {
        let answer = async move {
            let this = &tiles.0;
            let start = Instant::now();
            let plain = !req.headers().contains_key(header::AUTHORIZATION)
                && crate::cors::refusal(&this.state.config, &req).is_none();
            if plain {
                let addr = auth::client_of(&this.state, &req);
                let (mut parts, body) = req.into_parts();
                let admission = auth::admit_anonymous(&this.state, addr).await;
                if let Admission::Anonymous(allowance) = admission
                    && let Some(mut response) = this.held(&parts).await
                {
                    if let Some(a) = allowance {
                        a.write(response.headers_mut());
                    }
                    // One reading of the clock for the count and the log line.
                    let latency = start.elapsed();
                    this.metrics.observe(response.status().as_u16(), latency);
                    this.answered.inc();
                    access_span(&parts.method, parts.uri.path()).in_scope(|| access_log(response.status(), latency));
                    return Ok(response);
                }
                parts.extensions.insert(admission);
                req = Request::from_parts(parts, body);
            }
            this.router.clone().oneshot(req).await
        };
        // As the router's panic catcher: a bug costs one request a 500, never the connection.
        Box::pin(AssertUnwindSafe(answer).catch_unwind().map(|answered| match answered {
            Ok(answered) => answered,
            Err(_) => {
                tracing::error!("the tile lane panicked");
                Ok(crate::error::Error::Internal("panic".into()).into_response())
            }
        }))
    }
}

impl Shared {
    /// The answer to a tile request from what this process holds: a 304 for a validator of
    /// the tile's current key, or the cached tile; `None` when the tile is not held or the
    /// request does not read (the router then answers, with the error if there is one).
    async fn held(&self, req: &Parts) -> Option<Response> {
        let rest = req.uri.path().strip_prefix("/tiles/")?;
        let mut segments = rest.split('/');
        let (layers, z, x, y) = (segments.next()?, segments.next()?, segments.next()?, segments.next()?);
        let params = match req.uri.query() {
            None => MapParams::default(),
            Some(_) => Query::<MapParams>::try_from_uri(&req.uri).ok()?.0,
        };
        let request = TileRequest::parse(layers, z, x, y, &params).ok()?;
        let key = request.key(&self.state.catalog.peek());
        let headers = &req.headers;
        let config = &self.state.config;
        if let Some(mut r) = known(headers, &key, TILE_CACHE_CONTROL) {
            dress(config, &mut r);
            return Some(with_cors(&self.cors, req, r).await);
        }
        let coding = Coding::negotiate(headers);
        let cached = self.state.cache.hit(&key, coding).await?;
        let unconditional = !headers.contains_key(header::IF_NONE_MATCH) && cached.last_modified.is_none();
        if let Some(templates) = self.templates.as_ref().filter(|_| unconditional && cached.next.is_none()) {
            return Some(templates.answer(cached.representation(coding).await));
        }
        let mut r = conditional(headers, &cached, coding, TILE_MEDIA_TYPE, TILE_CACHE_CONTROL).await;
        dress(config, &mut r);
        Some(with_cors(&self.cors, req, r).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).expect("request")
    }

    #[test]
    fn the_lane_takes_plain_tile_paths_only() {
        for path in ["/tiles/offers/12/2086/1380.mvt", "/tiles/offers,routes/0/0/0.mvt?lang=en", "/tiles/a/b/c/d"] {
            assert!(is_tile_get(&get(path)), "{path}");
        }
        for path in [
            "/tiles/offers.json",
            "/tiles/style.json",
            "/tiles/offers/12/2086",
            "/tiles/offers/12/2086/1380.mvt/",
            "/tiles/offers//2086/1380.mvt",
            "/tiles//12/2086/1380.mvt",
            "/tiles/offers%2Croutes/12/2086/1380.mvt",
            "/tiles/offers/12/2086/1380/extra.mvt",
            "/layers/offers.geojson",
            "/tiles/",
        ] {
            assert!(!is_tile_get(&get(path)), "{path}");
        }
        let mut head = get("/tiles/offers/12/2086/1380.mvt");
        *head.method_mut() = Method::HEAD;
        assert!(!is_tile_get(&head), "HEAD goes to the router");
    }
}
