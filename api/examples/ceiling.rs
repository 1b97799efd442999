//! The HTTP ceiling of `bench/peers.sh`: axum answering every GET with the same 1 KiB body, on
//! the same runtime, allocator and listener settings as the API, with no middleware, no cache and
//! no logging. Whatever a hot tile costs above this server's figure is ours.
//!
//! Usage: `cargo run --release -p api --example ceiling -- 127.0.0.1:18990`

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The body every request gets: 1 KiB, about a composite z12 tile of the territory.
static BODY: [u8; 1024] = [b'x'; 1024];

async fn answer() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/vnd.mapbox-vector-tile"), (CACHE_CONTROL, "public, max-age=60")],
        Bytes::from_static(&BODY),
    )
}

fn main() -> std::io::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18990".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = axum::Router::new().fallback(answer);
        axum::serve(listener, app).await
    })
}
