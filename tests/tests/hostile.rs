//! Requests built to take the server down, sent as a hostile client would: nested brackets in
//! every place a value can appear, fragment bombs, over every transport (POST, GET, persisted
//! queries, the WebSocket); silent and half-sent connections; parameters that would grow the
//! caches. Each gets a clear 4xx (or a closed connection), memory stays put, and the server
//! goes on serving.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{Options, TestServer, WsClient, resident_bytes};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Memory a hostile request may leave behind (allocator noise included).
const MEMORY_SLACK: u64 = 20 * 1024 * 1024;

fn nested(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

/// Every place a nested value can go in a document, `n` levels deep.
fn deep_documents(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("a list argument", format!("{{ offers(filter: {{ kinds: {} }}) {{ totalCount }} }}", nested("[", "]", n))),
        ("an object argument", format!("{{ offers(filter: {}) {{ totalCount }} }}", nested("{ text: ", "}", n))),
        ("a directive argument", format!("{{ totems @include(if: {}) {{ name }} }}", nested("[", "]", n))),
        (
            "a variable default",
            format!(
                "query($f: OfferFilter = {{ kinds: {} }}) {{ offers(filter: $f) {{ totalCount }} }}",
                nested("[", "]", n)
            ),
        ),
        ("selections", format!("{{ {} }}", nested("totems { ", "} ", n))),
        ("inline fragments", format!("{{ {} }}", nested("... on Query { ", "} ", n))),
    ]
}

/// A fragment bomb: each fragment spreads the one before twice.
fn fragment_bomb(levels: usize) -> String {
    let mut doc = format!("query {{ ...F{levels} }} fragment F0 on Query {{ __typename }}");
    for i in 1..=levels {
        doc.push_str(&format!(" fragment F{i} on Query {{ ...F{} ...F{} }}", i - 1, i - 1));
    }
    doc
}

fn sha256_hex(text: &str) -> String {
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// Sends a document over POST, GET and as a persisted query; each must be a 400
/// `BAD_USER_INPUT` whose message contains `why`.
async fn refused_over_http(server: &TestServer, what: &str, doc: &str, why: &str) {
    let post = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("accept", GRAPHQL_RESPONSE)
        .json(&json!({ "query": doc }))
        .send()
        .await
        .unwrap();
    check_refusal(post, &format!("POST {what}"), why).await;
    // A URL is at most 64 KiB long (no HTTP client sends more): longer documents go by POST only.
    let encoded: String = url::form_urlencoded::byte_serialize(doc.as_bytes()).collect();
    if encoded.len() < 60_000 {
        let get = server
            .client
            .get(format!("{}/graphql?query={encoded}", server.url))
            .header("accept", GRAPHQL_RESPONSE)
            .send()
            .await
            .unwrap();
        check_refusal(get, &format!("GET {what}"), why).await;
    }
    let persisted =
        json!({ "query": doc, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(doc) } } });
    let apq = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("accept", GRAPHQL_RESPONSE)
        .json(&persisted)
        .send()
        .await
        .unwrap();
    check_refusal(apq, &format!("persisted {what}"), why).await;
    // A refused document is not kept: its hash alone is still unknown.
    let by_hash = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(doc) } } });
    let body: Value = server
        .client
        .post(format!("{}/graphql", server.url))
        .json(&by_hash)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{what}: {body}");
}

async fn check_refusal(res: reqwest::Response, what: &str, why: &str) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{what}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "{what}: {message}");
    assert!(body.get("data").is_none(), "{what}: nothing ran: {body}");
}

/// Sends a document over the WebSocket: it must fail with a `BAD_USER_INPUT` error message.
async fn refused_over_ws(ws: &mut WsClient, id: &str, doc: &str, why: &str) {
    ws.subscribe(id, doc, json!({})).await;
    let results = ws.results(id).await;
    let first = results.first().cloned().unwrap_or(Value::Null);
    let errors = if first["type"] == "error" { first["payload"].clone() } else { first["payload"]["errors"].clone() };
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "WS {id}: {results:?}");
    assert!(errors[0]["message"].as_str().unwrap_or_default().contains(why), "WS {id}: {results:?}");
}

async fn still_serving(server: &TestServer) {
    let data = server.data("{ themes { code } }", json!({})).await;
    assert_eq!(data["themes"].as_array().unwrap().len(), 5);
    assert_eq!(server.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn nested_values_are_refused_in_every_place_and_over_every_transport() {
    let server = TestServer::start().await;
    still_serving(&server).await;
    let before = resident_bytes(server.pid());
    let mut ws = WsClient::connect(&server).await;
    for n in [2_000, 5_000, 10_000] {
        for (place, doc) in deep_documents(n) {
            let started = Instant::now();
            refused_over_http(&server, &format!("{n} levels in {place}"), &doc, "nests deeper").await;
            refused_over_ws(&mut ws, &format!("{n}-{place}"), &doc, "nests deeper").await;
            eprintln!("{n} levels in {place}: refused over 4 transports in {:?}", started.elapsed());
        }
        // Variables are JSON: their nesting is bounded by the JSON reader.
        let variables = format!(r#"{{"f": {{"kinds": {}}}}}"#, nested("[", "]", n));
        let body = format!(
            r#"{{"query": "query($f: OfferFilter) {{ offers(filter: $f) {{ totalCount }} }}", "variables": {variables}}}"#
        );
        let res = server
            .client
            .post(format!("{}/graphql", server.url))
            .header("accept", GRAPHQL_RESPONSE)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{n} levels of variables");
    }
    still_serving(&server).await;
    let after = resident_bytes(server.pid());
    assert!(after < before + MEMORY_SLACK, "resident memory grew from {before} to {after} bytes");
}

#[tokio::test]
async fn fragment_bombs_are_refused_before_validation_over_every_transport() {
    let server = TestServer::start().await;
    still_serving(&server).await;
    let before = resident_bytes(server.pid());
    let mut ws = WsClient::connect(&server).await;
    for levels in [20, 24, 30, 40] {
        let doc = fragment_bomb(levels);
        let started = Instant::now();
        refused_over_http(&server, &format!("a {levels}-level fragment bomb"), &doc, "expanded").await;
        refused_over_ws(&mut ws, &format!("bomb-{levels}"), &doc, "expanded").await;
        eprintln!("{levels}-level fragment bomb: refused over 4 transports in {:?}", started.elapsed());
    }
    // A cycle of fragments is refused as such, not explored.
    refused_over_http(
        &server,
        "a fragment cycle",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "cycle",
    )
    .await;
    // Wide instead of deep: more fields than the budget, once expanded.
    let wide = format!("{{ ...F ...F ...F }} fragment F on Query {{ {} }}", "__typename ".repeat(1_500));
    refused_over_http(&server, "a wide document", &wide, "expanded").await;
    still_serving(&server).await;
    let after = resident_bytes(server.pid());
    assert!(after < before + MEMORY_SLACK, "resident memory grew from {before} to {after} bytes");
}

#[tokio::test]
async fn the_websocket_has_the_limits_of_http() {
    let server = TestServer::start_with(Options {
        env: vec![("RATE_LIMIT_ANONYMOUS".into(), "0".into()), ("HEADER_TIMEOUT_SECONDS".into(), "2".into())],
        ..Default::default()
    })
    .await;

    // A message larger than a request body may be closes the connection.
    let mut ws = WsClient::connect(&server).await;
    let huge = format!("{{ themes {{ code }} }} # {}", "x".repeat(300 * 1024));
    ws.subscribe("huge", &huge, json!({})).await;
    assert!(ws.next_json_or_close().await.is_err(), "an oversized message ends the connection");

    // At most 100 operations at once on one connection.
    let mut ws = WsClient::connect(&server).await;
    for i in 0..101 {
        ws.subscribe(&format!("s{i}"), "subscription { offerChanged { id } }", json!({})).await;
    }
    // Which one is refused depends on the order they are first run in; exactly one is.
    let mut refused = Vec::new();
    while let Ok(m) = ws.next_within(Duration::from_secs(2)).await {
        if m.to_string().contains("at most 100 operations") {
            refused.push(m["id"].clone());
        }
    }
    assert_eq!(refused.len(), 1, "one of 101 operations is refused: {refused:?}");

    // Every operation counts against the rate limit (20 a minute on this server).
    let limited_server = TestServer::start_with(Options {
        env: vec![("RATE_LIMIT_ANONYMOUS".into(), "20".into())],
        ..Default::default()
    })
    .await;
    let mut ws = WsClient::connect(&limited_server).await;
    let mut answers = Vec::new();
    for i in 0..25 {
        ws.subscribe(&format!("q{i}"), "{ themes { code } }", json!({})).await;
        answers.push(ws.results(&format!("q{i}")).await);
    }
    assert!(answers[0].iter().any(|m| m["payload"]["data"]["themes"].is_array()), "{:?}", answers[0]);
    assert!(answers[24].iter().any(|m| m.to_string().contains("RATE_LIMITED")), "{:?}", answers[24]);

    // The alias limit holds over the WebSocket too.
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let mut ws2 = WsClient::connect(&server).await;
    ws2.subscribe("aliases", &format!("{{ {aliases} }}"), json!({})).await;
    let refused = ws2.results("aliases").await;
    assert!(refused.iter().any(|m| m.to_string().contains("aliases")), "{refused:?}");

    // A connection that never initialises is closed with 4408 once the head timeout is past.
    let mut silent = WsClient::connect_raw(&server).await;
    let started = Instant::now();
    assert_eq!(silent.next_json_or_close().await, Err(Some(4408)));
    assert!(started.elapsed() < Duration::from_secs(10), "closed after {:?}", started.elapsed());
}

/// Whether the server closed a socket (a read returns end of file, or an HTTP answer followed by
/// the end) within `within`.
fn closed_within(mut stream: std::net::TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return started.elapsed() < within,
        }
    }
}

#[tokio::test]
async fn idle_half_sent_and_surplus_connections_are_closed() {
    let server = TestServer::start_with(Options {
        env: vec![("HEADER_TIMEOUT_SECONDS".into(), "2".into()), ("MAX_CONNECTIONS_PER_ADDRESS".into(), "8".into())],
        ..Default::default()
    })
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let connect = || std::net::TcpStream::connect(&addr).unwrap();

    let silent = connect();
    let mut half = connect();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    let mut idle = connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let started = Instant::now();
    let handles: Vec<_> = [silent, half, idle]
        .into_iter()
        .map(|s| std::thread::spawn(move || closed_within(s, Duration::from_secs(8))))
        .collect();
    for (what, h) in ["a silent socket", "half a header", "an idle keep-alive"].iter().zip(handles) {
        assert!(h.join().unwrap(), "{what} was not closed");
    }
    assert!(started.elapsed() < Duration::from_secs(8));

    // Past the cap per address, a connection is answered 503 and closed at once; the others work.
    let held: Vec<std::net::TcpStream> = (0..8).map(|_| connect()).collect();
    let mut extra = connect();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    drop(held);
    // Once they are gone, the same address is served again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serving(&server).await;
}

#[tokio::test]
async fn what_clients_send_cannot_grow_memory() {
    let server = TestServer::start_with(Options {
        env: vec![("CACHE_MB".into(), "4".into()), ("RATE_LIMIT_ANONYMOUS".into(), "0".into())],
        ..Default::default()
    })
    .await;
    still_serving(&server).await;
    let junk = "ab".repeat(30 * 1024);
    // Warm-up: the first layer requests allocate what any server would keep.
    for _ in 0..50 {
        server.get("/layers/offers.geojson?bbox=3.0,50.0,3.5,50.5").await;
    }
    let before = resident_bytes(server.pid());
    for i in 0..2_000 {
        let res = server.get(&format!("/layers/offers.geojson?commune={junk}{i}")).await;
        assert_eq!(res.status(), 400, "an unknown commune is refused before it reaches a cache key");
    }
    // Valid parameters, all different (each a layer of about 1 MB): the cache holds at most its
    // budget, keys counted.
    for i in 0..300 {
        let w = 3.0 + f64::from(i) * 0.0001;
        let res = server.get(&format!("/layers/communes.geojson?bbox={w},50.0,3.6,50.6")).await;
        assert_eq!(res.status(), 200);
    }
    let after = resident_bytes(server.pid());
    assert!(after < before + MEMORY_SLACK + 4 * 1024 * 1024, "resident memory grew from {before} to {after} bytes");
    still_serving(&server).await;
}
