//! Accepting connections: HTTP/1.1 with a deadline on every request head (which also closes a
//! keep-alive connection left idle, a socket that sends nothing and one that sends half a
//! header), a cap on connections in total and per client address, and graceful shutdown.
//!
//! Written over hyper because `axum::serve` offers neither timeouts nor caps: 300 silent
//! sockets were enough to exhaust the process's file descriptors and stall `/healthz`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections in total.
    pub total: usize,
    /// Open connections from one client address.
    pub per_address: usize,
    /// Time to receive a whole request head, counted from the connection's start or from the end
    /// of the previous response: a keep-alive connection idle that long is closed.
    pub head_timeout: Duration,
    /// Addresses without a per-address cap: the trusted proxies, which carry many clients.
    pub exempt: Vec<ipnet::IpNet>,
}

/// Descriptors kept for the database pool, Redis and files when the total is derived from the
/// process's limit.
const RESERVED_DESCRIPTORS: u64 = 128;

/// The most connections the process can hold: its descriptor limit (raised to the hard limit
/// when allowed) less what the rest of the process needs.
pub fn descriptor_budget() -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(1024);
    usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS).max(16)).unwrap_or(usize::MAX)
}

/// Who holds how many connections.
#[derive(Default)]
struct Tally {
    total: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection counted in the tally, uncounted when dropped.
pub struct Counted {
    tally: Arc<Tally>,
    address: IpAddr,
}

impl Tally {
    fn admit(self: &Arc<Self>, peer: IpAddr, limits: &ConnectionLimits) -> Option<Counted> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= limits.total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let address = crate::auth::network_of(peer);
        let cap = if limits.exempt.iter().any(|n| n.contains(&peer)) { usize::MAX } else { limits.per_address };
        let mut by = self.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = by.entry(address).or_insert(0);
        if *n >= cap {
            drop(by);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        *n += 1;
        Some(Counted { tally: self.clone(), address })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.tally.total.fetch_sub(1, Ordering::AcqRel);
        let mut by = self.tally.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = by.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.address);
            }
        }
    }
}

/// The connection a request came on, in the request's extensions (one extension rather than
/// two: it is inserted into every request): its peer's address, and its count, which whoever
/// takes the connection over (a WebSocket) keeps, so that it stays counted until it closes.
#[derive(Clone)]
pub struct Connection {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The connection's place in the tally.
    pub count: Arc<Counted>,
}

/// Answers a connection over its cap with a 503 and closes it, without reading it.
async fn turn_away(mut stream: TcpStream) {
    let body = r#"{"error":{"code":"UNAVAILABLE","message":"too many connections: retry shortly"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serves on `listener` until `shutdown` completes, then lets running requests finish (for at
/// most `drain`). Each connection gets its own application from `app`, cloned for each of its
/// requests: made per connection, what a clone shares is shared by one connection's requests
/// rather than written by every thread at once.
pub async fn serve<S>(
    listener: TcpListener,
    app: impl Fn() -> S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let tally = Arc::new(Tally::default());
    // Every connection task watches `stop` and holds a `done` receiver: shutdown flips the first
    // and waits until every receiver of the second is gone.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::watch::channel(());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // little rather than spin, and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(counted) = tally.admit(peer.ip(), &limits) else {
            tracing::debug!(peer = %peer, "connection over the cap, answered 503");
            tokio::spawn(turn_away(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection { peer, count: Arc::new(counted) };
        let counted = connection.count.clone();
        let app = app();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(connection.clone());
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req.map(Body::new)).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let _counted = counted;
            let _done = done;
            tokio::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    if tokio::time::timeout(drain, done_tx.closed()).await.is_err() {
        tracing::warn!("connections still open after {drain:?}; closing them");
    }
}
