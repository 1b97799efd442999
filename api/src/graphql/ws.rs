//! GraphQL over WebSocket at `/graphql/ws` (`graphql-transport-ws`, and the older `graphql-ws`),
//! with the limits of HTTP: messages of at most [`MAX_MESSAGE`] bytes, documents checked by the
//! schema's guard, every operation counted against the caller's rate limit, at most
//! [`MAX_OPERATIONS`] running at once on a connection, queries cut at the guard's timeout. A
//! connection must be initialised within the time allowed for a request head
//! (`HEADER_TIMEOUT_SECONDS`) and is pinged every [`PING_EVERY`]; one that answers nothing for
//! [`IDLE_TIMEOUT`] is closed.
//!
//! The protocol itself is async-graphql's; this module feeds it and runs every operation through
//! [`WsExecutor`], which gives it what an HTTP request gets (the catalog snapshot of the moment,
//! the caller, the language, the base URLs).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocket as GraphQLWebSocket, WebSocketProtocols as Protocols, WsMessage,
};
use async_graphql::{Data, Executor, Request, Response};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response as HttpResponse;
use futures::stream::{BoxStream, StreamExt};
use futures::{FutureExt, SinkExt};

use super::guard::coded_error;
use crate::auth::Caller;
use crate::error::Error;
use crate::graphql::context::RequestLang;
use crate::lang::Lang;
use crate::state::{AppState, Urls};

/// Largest message a client may send (as a request body over HTTP).
pub const MAX_MESSAGE: usize = crate::server::BODY_LIMIT;
/// Most operations running at once on one connection.
pub const MAX_OPERATIONS: usize = 100;
/// How often the server pings (WebSocket ping frames, which every client answers).
pub const PING_EVERY: Duration = Duration::from_secs(30);
/// A connection from which nothing came for this long (not even a pong) is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// `GET /graphql/ws`: upgrades to a WebSocket speaking the protocol the client asked for.
pub async fn handler(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    connection: Option<Extension<crate::net::Connection>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    // The first protocol the client offers that we speak (the upgrade answers with the same).
    let protocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse::<Protocols>().ok())
        .unwrap_or(Protocols::SubscriptionsTransportWS);
    let lang = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language);
    let urls = Urls { public: state.config.base_url(&headers), website: state.config.website_url() };
    let init_timeout = Duration::from_secs(state.config.header_timeout_seconds.max(1));
    let addr =
        connection.as_ref().map(|c| crate::auth::client_address(&state.config.trusted_proxies, c.peer.ip(), &headers));
    // The socket stays counted against the connection caps until it closes.
    let held = connection.map(|c| c.0.count);
    let executor = WsExecutor::new(state, caller.map_or(Caller::Anonymous, |c| c.0), addr, lang, urls);
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).max_message_size(MAX_MESSAGE).max_frame_size(MAX_MESSAGE).on_upgrade(
        move |socket| async move {
            let _held = held;
            serve(socket, executor, protocol, init_timeout).await
        },
    )
}

/// Relays between the socket and the protocol, with the connection's timers.
async fn serve(socket: WebSocket, executor: WsExecutor, protocols: Protocols, init_timeout: Duration) {
    let (mut sink, stream) = socket.split();
    let last_heard = Arc::new(std::sync::Mutex::new(Instant::now()));
    let heard = last_heard.clone();
    let input = stream.take_while(|m| futures::future::ready(m.is_ok())).filter_map(move |m| {
        if let Ok(mut at) = heard.lock() {
            *at = Instant::now();
        }
        futures::future::ready(match m {
            Ok(Message::Text(t)) => Some(ClientMessage::from_bytes(t.as_bytes())),
            Ok(Message::Binary(b)) => Some(ClientMessage::from_bytes(&b)),
            _ => None,
        })
    });
    let (init, connection) = (executor.clone(), executor.clone());
    let mut graphql = GraphQLWebSocket::from_message_stream(executor, input, protocols)
        .on_connection_init(move |payload| init.init(payload));
    let started = Instant::now();
    let mut acknowledged = false;
    let mut last_ping = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = graphql.next() => match out {
                Some(WsMessage::Text(text)) => {
                    acknowledged |= text.contains("\"connection_ack\"");
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // graphql-transport-ws: a refused initialisation is 4403 Forbidden.
                    let code = if connection.0.refused.load(Ordering::Acquire) { 4403 } else { code };
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                None => break,
            },
            _ = tick.tick() => {
                let idle = last_heard.lock().map(|t| t.elapsed()).unwrap_or_default();
                let close = if !acknowledged && started.elapsed() >= init_timeout {
                    Some((4408, "Connection initialisation timeout"))
                } else if idle >= IDLE_TIMEOUT {
                    Some((1001, "Idle for too long"))
                } else {
                    None
                };
                if let Some((code, reason)) = close {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                if last_ping.elapsed() >= PING_EVERY {
                    last_ping = Instant::now();
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// What a connection knows of its client.
struct Connection {
    state: AppState,
    /// From the upgrade's `Authorization` header, or else from `connection_init`'s payload.
    caller: std::sync::RwLock<Caller>,
    addr: Option<IpAddr>,
    lang: Option<Lang>,
    urls: Urls,
    running: AtomicUsize,
    /// `connection_init` carried a key that does not pass.
    refused: std::sync::atomic::AtomicBool,
}

/// Runs the operations of one connection, each with the data an HTTP request would get.
#[derive(Clone)]
pub struct WsExecutor(Arc<Connection>);

/// A place among the running operations of a connection, given back when dropped.
struct Slot(Arc<Connection>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

fn refused(e: Error) -> Response {
    let mut err = coded_error(e.public_message(), e.code());
    if let (Some(retry), Some(ext)) = (e.retry_after(), err.extensions.as_mut()) {
        ext.set("retryAfter", retry);
    }
    Response::from_errors(vec![err])
}

impl WsExecutor {
    /// The executor of one connection of this client.
    pub fn new(state: AppState, caller: Caller, addr: Option<IpAddr>, lang: Option<Lang>, urls: Urls) -> WsExecutor {
        WsExecutor(Arc::new(Connection {
            state,
            caller: std::sync::RwLock::new(caller),
            addr,
            lang,
            urls,
            running: AtomicUsize::new(0),
            refused: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    fn caller(&self) -> Caller {
        self.0.caller.read().map(|c| c.clone()).unwrap_or(Caller::Anonymous)
    }

    /// `connection_init`: a browser cannot set headers on a WebSocket, so its key may come in the
    /// payload instead (`{"Authorization": "Bearer <token>"}`, as graphql-ws's
    /// `connectionParams`). A wrong key refuses the connection (4403); a key differing from the
    /// upgrade's header too.
    async fn init(self, payload: serde_json::Value) -> async_graphql::Result<Data> {
        let value = ["Authorization", "authorization"].iter().find_map(|k| payload.get(*k)).and_then(|v| v.as_str());
        let Some(value) = value else { return Ok(Data::default()) };
        let c = &self.0;
        let caller = match crate::auth::bearer_token(value) {
            Ok(token) => c.state.auth.authenticate_token(&c.state.db, Some(token)).await,
            Err(e) => Err(e),
        }
        .map_err(|e| {
            c.refused.store(true, Ordering::Release);
            async_graphql::Error::new(e.public_message())
        })?;
        let mut current = c.caller.write().map_err(|_| async_graphql::Error::new("internal error"))?;
        match &*current {
            Caller::Anonymous => *current = caller,
            same if *same == caller => {}
            _ => {
                c.refused.store(true, Ordering::Release);
                return Err(async_graphql::Error::new("the payload's key is not the header's"));
            }
        }
        Ok(Data::default())
    }

    /// Counts the operation against the rate limit and the connection's budget.
    async fn admit(&self) -> Result<Slot, Response> {
        let c = &self.0;
        c.state.limiter.check(&self.caller(), c.addr).await.map_err(refused)?;
        if c.running.fetch_add(1, Ordering::AcqRel) >= MAX_OPERATIONS {
            c.running.fetch_sub(1, Ordering::AcqRel);
            return Err(refused(Error::BadUserInput(format!(
                "at most {MAX_OPERATIONS} operations may run at once on one connection"
            ))));
        }
        Ok(Slot(c.clone()))
    }

    fn with_data(&self, request: Request) -> Request {
        let c = &self.0;
        request
            .data(c.state.catalog.get())
            .data(RequestLang(c.lang))
            .data(self.caller())
            .data(c.state.clone())
            .data(c.urls.clone())
    }
}

impl Executor for WsExecutor {
    fn execute(&self, request: Request) -> impl std::future::Future<Output = Response> + Send {
        let this = self.clone();
        async move {
            match this.admit().await {
                Ok(_slot) => this.0.state.schema.execute(this.with_data(request)).await,
                Err(refusal) => refusal,
            }
        }
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let this = self.clone();
        async move {
            let slot = match this.admit().await {
                Ok(slot) => slot,
                Err(refusal) => return futures::stream::once(async move { refusal }).boxed(),
            };
            let request = this.with_data(request);
            let schema = &this.0.state.schema;
            let stream = match session_data {
                Some(data) => schema.execute_stream_with_session_data(request, data),
                None => schema.execute_stream(request),
            };
            // The slot is given back when the operation ends or the client stops it.
            stream
                .map(move |r| {
                    let _running = &slot;
                    r
                })
                .boxed()
        }
        .into_stream()
        .flatten()
        .boxed()
    }
}
