//! The HTTP ceiling of `bench/peers.sh`: axum answering from memory, on the same runtime,
//! allocator and listener settings as the API, with no middleware, no cache and no logging.
//! Whatever a hot tile costs above this server's figure is ours.
//!
//! Two kinds of answers:
//! - with only an address, every GET gets the same 1 KiB body (about what issue 18 took a
//!   composite z12 tile to weigh);
//! - with a folder of recorded answers as well, each recorded path gets the bytes the API sent
//!   for it (its body and headers, the date and length apart): the ceiling for the same bytes on
//!   the wire. The folder holds `index.tsv` (`path<TAB>body file<TAB>headers file` per line, the
//!   headers as `curl -D` writes them); any other path gets the 1 KiB body.
//!
//! Usage: `cargo run --release -p api --example ceiling -- 127.0.0.1:18990 [FOLDER]`

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The body every request gets: 1 KiB.
static BODY: [u8; 1024] = [b'x'; 1024];

/// A recorded answer.
struct Recorded {
    headers: HeaderMap,
    body: Bytes,
}

fn fixed() -> Response {
    (
        [(CONTENT_TYPE, "application/vnd.mapbox-vector-tile"), (CACHE_CONTROL, "public, max-age=60")],
        Bytes::from_static(&BODY),
    )
        .into_response()
}

/// Reads the recorded answers of `folder`.
fn recordings(folder: &std::path::Path) -> std::io::Result<HashMap<String, Recorded>> {
    let mut answers = HashMap::new();
    for line in std::fs::read_to_string(folder.join("index.tsv"))?.lines() {
        let mut fields = line.split('\t');
        let (Some(path), Some(body), Some(head)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let mut headers = HeaderMap::new();
        for h in std::fs::read_to_string(folder.join(head))?.lines().skip(1) {
            let Some((name, value)) = h.split_once(':') else { continue };
            let name = name.trim().to_ascii_lowercase();
            if matches!(name.as_str(), "date" | "content-length" | "connection" | "transfer-encoding") {
                continue;
            }
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value.trim())) {
                headers.append(n, v);
            }
        }
        let body = Bytes::from(std::fs::read(folder.join(body))?);
        answers.insert(path.to_owned(), Recorded { headers, body });
    }
    Ok(answers)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18990".to_owned());
    let answers = Arc::new(match args.next() {
        Some(folder) => recordings(std::path::Path::new(&folder))?,
        None => HashMap::new(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = axum::Router::new().fallback(move |req: Request| {
            let answers = answers.clone();
            async move {
                match answers.get(req.uri().path()) {
                    Some(r) => {
                        let mut response = Response::new(Body::from(r.body.clone()));
                        *response.headers_mut() = r.headers.clone();
                        response
                    }
                    None => fixed(),
                }
            }
        });
        axum::serve(listener, app).await
    })
}
