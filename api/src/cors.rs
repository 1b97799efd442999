//! Calls from other origins' pages (the destination's website, its apps, partner sites): CORS
//! with tower-http on every route, from the origins of `CORS_ORIGINS` (every origin by default:
//! the published offer is public, and keys are bearer tokens a page must hold, never cookies a
//! browser would add on its own). With a list, a request carrying a foreign `Origin` (a WebSocket
//! handshake included, which CORS does not cover) is refused here too, not only by the browser.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;
use crate::error::Error;

/// How long a browser may keep a preflight's answer (Chromium keeps at most 2 hours).
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// The request headers our clients send.
const REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "authorization",
    "content-type",
    "if-modified-since",
    "if-none-match",
    // Sent by Apollo and urql clients (persisted queries, CSRF prevention).
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-client-name",
    "graphql-client-version",
];

/// The response headers a page must be able to read.
const RESPONSE_HEADERS: &[&str] = &[
    "etag",
    "last-modified",
    "link",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "content-language",
];

/// The CORS layer of the router.
pub fn layer(config: &Config) -> CorsLayer {
    let origins = match config.cors_list() {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok())),
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers(REQUEST_HEADERS.iter().map(|h| HeaderName::from_static(h)).collect::<Vec<_>>())
        .expose_headers(RESPONSE_HEADERS.iter().map(|h| HeaderName::from_static(h)).collect::<Vec<_>>())
        .max_age(PREFLIGHT_MAX_AGE)
}

/// With a list of origins: the refusal (403 `FORBIDDEN`) of a request from a page of another
/// origin, unless it is a page of this API itself; `None` when the request may go on.
pub fn refusal(config: &Config, req: &Request) -> Option<Response> {
    let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok())?;
    if config.origin_allowed(origin) || is_own_origin(config, req, origin) {
        return None;
    }
    Some(Error::Forbidden(format!("pages of {origin} may not call this API (see CORS_ORIGINS)")).into_response())
}

/// Whether `origin` is this API's own: the browser says the request is same-origin, or the origin
/// is `PUBLIC_URL`'s (or, without it, the request's host).
fn is_own_origin(config: &Config, req: &Request, origin: &str) -> bool {
    let same = req.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"same-origin");
    if same {
        return true;
    }
    let public = match &config.public_url {
        Some(url) => url::Url::parse(url).ok().map(|u| u.origin().ascii_serialization()),
        None => req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{}", host.to_ascii_lowercase())),
    };
    public.is_some_and(|p| p == origin)
}
