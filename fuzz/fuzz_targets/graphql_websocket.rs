//! The GraphQL WebSocket protocol as the server runs it (graphql-transport-ws and the older
//! graphql-ws, through the connection's executor with its limits), fed sequences of client
//! messages: well-formed ones carrying generated documents, and junk. A panic is a finding; so
//! is a connection that does not settle within libFuzzer's timeout.
#![no_main]
use std::time::Duration;

use api::auth::Caller;
use api::graphql::ws::WsExecutor;
use api::state::Urls;
use arbitrary::Arbitrary;
use async_graphql::http::{ClientMessage, WebSocket, WebSocketProtocols};
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[derive(Arbitrary, Debug)]
enum Msg {
    Init,
    Subscribe(u8, fuzz::Req),
    Complete(u8),
    Ping,
    Pong,
    Terminate,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Session {
    legacy: bool,
    messages: Vec<Msg>,
}

fuzz_target!(|s: Session| {
    let app = fuzz::app();
    let legacy = s.legacy;
    let bytes: Vec<Vec<u8>> = s
        .messages
        .iter()
        .map(|m| {
            let v = match m {
                Msg::Init => json!({ "type": "connection_init" }),
                Msg::Subscribe(id, req) => {
                    let t = if legacy { "start" } else { "subscribe" };
                    json!({ "type": t, "id": id.to_string(), "payload": { "query": req.document(), "variables": req.variables() } })
                }
                Msg::Complete(id) => json!({ "type": if legacy { "stop" } else { "complete" }, "id": id.to_string() }),
                Msg::Ping => json!({ "type": "ping" }),
                Msg::Pong => json!({ "type": "pong" }),
                Msg::Terminate => json!({ "type": "connection_terminate" }),
                Msg::Raw(b) => return b.clone(),
            };
            v.to_string().into_bytes()
        })
        .collect();
    let executor = WsExecutor::new(
        app.state.clone(),
        Caller::Anonymous,
        None,
        None,
        Urls { public: "http://localhost".into(), website: "https://example.org".into() },
    );
    let protocol = if legacy { WebSocketProtocols::SubscriptionsTransportWS } else { WebSocketProtocols::GraphQLWS };
    app.runtime.block_on(async move {
        let input = futures::stream::iter(bytes).map(|b| ClientMessage::from_bytes(b));
        let mut out = WebSocket::from_message_stream(executor, input, protocol);
        // Read what the server answers until it has nothing more to say for a moment (open
        // subscriptions wait for changes that never come).
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), out.next()).await {}
    });
});
