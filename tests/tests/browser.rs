//! The API from a browser, as the website's and partners' front-end developers use it: pages on
//! another origin (CORS, checked by headless Chromium, which enforces it), GraphiQL served from
//! the binary with the network cut off, and the front door at `/`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};
use tests::{Options, SqliteDatabase, TestServer, WsClient, create_key, run_checker, skip_or_fail};

const WEBSITE: &str = "https://www.tourisme-porteduhainaut.fr";

fn chromium_or_skip() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Path::new(&chromium).exists() {
        return true;
    }
    skip_or_fail("chromium", "apt-get install chromium");
    false
}

async fn fosse(server: &TestServer, token: &str) -> (String, i64) {
    let q = r#"{ offer(slug: "fosse-d-arenberg") { id version } }"#;
    let o = server.graphql_as(token, q, json!({})).await["data"]["offer"].clone();
    (o["id"].as_str().unwrap().to_owned(), o["version"].as_i64().unwrap())
}

/// From a page on another port of 127.0.0.1: a query, a mutation with an editor's key, a GeoJSON
/// layer, and a MapLibre map drawn from the API's style, TileJSON and tiles.
#[tokio::test]
async fn a_page_on_another_origin_queries_writes_and_draws_the_map() {
    if !chromium_or_skip() {
        return;
    }
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let editor = create_key(&db.url, "office", "editor", None);
    let (id, version) = fosse(&server, &editor).await;
    let Some(report) = run_checker("cross-origin-check.mjs", &[&server.url, &editor, &id, &version.to_string()]) else {
        return;
    };
    assert_ne!(report["origin"].as_str().unwrap(), server.url, "another origin");
    assert_eq!(report["pageErrors"], json!([]), "{report}");
    assert_eq!(report["query"]["status"], 200, "{report}");
    assert_eq!(report["query"]["themes"], 5, "{report}");
    assert_eq!(report["query"]["rateLimit"], "3000", "exposed rate-limit headers: {report}");
    assert_eq!(report["mutation"]["status"], 200, "{report}");
    assert_eq!(report["mutation"]["version"], version + 1, "{report}");
    assert!(report["layer"]["features"].as_u64().unwrap() > 50, "{report}");
    assert!(report["layer"]["etag"].is_string(), "ETag readable: {report}");
    assert!(report["map"]["rendered"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["map"]["errors"], json!([]), "{report}");
}

/// With `CORS_ORIGINS` naming only the website, the same page is refused: the browser sees every
/// request fail, and the write never happens.
#[tokio::test]
async fn with_cors_origins_elsewhere_the_browser_refuses_the_page() {
    if !chromium_or_skip() {
        return;
    }
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CORS_ORIGINS".into(), WEBSITE.into())],
        ..Default::default()
    })
    .await;
    let editor = create_key(&db.url, "office", "editor", None);
    let (id, version) = fosse(&server, &editor).await;
    let Some(report) = run_checker("cross-origin-check.mjs", &[&server.url, &editor, &id, &version.to_string()]) else {
        return;
    };
    for part in ["query", "mutation", "layer"] {
        assert!(report[part]["error"].as_str().unwrap_or("").contains("Failed to fetch"), "{part}: {report}");
    }
    assert_eq!(report["map"]["rendered"], 0, "{report}");
    assert_eq!(fosse(&server, &editor).await.1, version, "nothing was written");
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default()
}

/// Preflights answer what clients send and expose what they read; with a list of origins the
/// server itself refuses a foreign origin's requests, a WebSocket handshake included.
#[tokio::test]
async fn preflights_and_origins() {
    let server = TestServer::start().await;
    let preflight = |s: &TestServer, path: &str, origin: &str| {
        s.client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type, if-none-match")
            .send()
    };
    let res = preflight(&server, "/graphql", "https://partner.example").await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(header(&res, "access-control-allow-origin"), "*");
    for h in ["authorization", "content-type", "if-none-match"] {
        assert!(header(&res, "access-control-allow-headers").contains(h), "{h}");
    }
    assert!(header(&res, "access-control-allow-methods").contains("post"));
    assert_eq!(header(&res, "access-control-max-age"), "7200");
    let res = server
        .client
        .get(format!("{}/layers/offers.geojson", server.url))
        .header("origin", "https://partner.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), "*");
    for h in ["etag", "last-modified", "retry-after", "ratelimit-remaining", "link"] {
        assert!(header(&res, "access-control-expose-headers").contains(h), "{h}");
    }

    let listed = TestServer::start_with(Options {
        env: vec![("CORS_ORIGINS".into(), format!("{WEBSITE}, http://localhost:3000"))],
        ..Default::default()
    })
    .await;
    let res = preflight(&listed, "/graphql", WEBSITE).await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), WEBSITE);
    let res = preflight(&listed, "/graphql", "https://evil.example").await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), "", "no grant to another origin");
    let post = |origin: &str| {
        listed
            .client
            .post(format!("{}/graphql", listed.url))
            .header("origin", origin)
            .json(&json!({ "query": "{ themes { code } }" }))
            .send()
    };
    assert_eq!(post("http://localhost:3000").await.unwrap().status(), 200);
    let refused = post("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN", "{body}");
    // Our own pages (GraphiQL, the map) still call the API.
    let own = listed.url.clone();
    assert_eq!(post(&own).await.unwrap().status(), 200);
    assert_eq!(WsClient::upgrade(&listed, &[("origin", "https://evil.example")]).await.err(), Some(403));
    let mut ws = WsClient::upgrade(&listed, &[("origin", WEBSITE)]).await.unwrap();
    ws.send_json(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.next_json().await.unwrap()["type"], "connection_ack");
}

/// GraphiQL from the binary with nothing but the server on the network: it loads, runs a query
/// typed in its editor and shows the result; its header editor waits for a key; no request leaves
/// the server's origin and its content security policy holds.
#[tokio::test]
async fn graphiql_works_offline() {
    if !chromium_or_skip() {
        return;
    }
    let server = TestServer::start().await;
    let Some(report) = run_checker("graphiql-check.mjs", &[&server.url]) else { return };
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["foreign"], json!([]), "requests left the origin: {report}");
    assert!(report["requests"].as_array().unwrap().len() >= 5, "{report}");
    assert_eq!(report["csp"], json!([]), "{report}");
    assert!(report["policy"].as_str().unwrap().contains("script-src 'self'"), "{report}");
    assert_eq!(report["headersPrefilled"], true, "{report}");
    assert_eq!(report["explorer"], true, "{report}");
    assert_eq!(report["result"]["data"]["themes"].as_array().unwrap().len(), 5, "{report}");
}

/// The front door names the service and links to everything; every link answers.
#[tokio::test]
async fn the_front_door_links_resolve() {
    let server = TestServer::start().await;
    let html = server.client.get(format!("{}/", server.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("Porte du Hainaut"));
    let hrefs: Vec<String> =
        html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_owned).collect();
    let json: Value = server
        .client
        .get(format!("{}/", server.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<String> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["links"].as_array().unwrap().iter().map(|l| l["href"].as_str().unwrap().to_owned()))
        .collect();
    for needed in [
        "/graphql",
        "/map",
        "/graphql/schema.graphql",
        "/tiles/style.json",
        "/layers",
        "/feeds/offers.jsonld",
        "/ogc",
        "/metrics",
        "/readyz",
    ] {
        assert!(listed.iter().any(|h| h == needed), "{needed} missing from {listed:?}");
    }
    let docs = server.get("/docs").await.text().await.unwrap();
    for href in hrefs.iter().filter(|h| h.starts_with('/')) {
        let (path, anchor) = href.split_once('#').map_or((href.as_str(), None), |(p, a)| (p, Some(a)));
        if path == "/graphql/ws" {
            continue;
        }
        let res =
            server.client.get(format!("{}{path}", server.url)).header("accept", "text/html, */*").send().await.unwrap();
        assert_eq!(res.status(), 200, "{href}");
        if let Some(anchor) = anchor {
            assert!(docs.contains(&format!("id=\"{anchor}\"")), "/docs has no #{anchor}");
        }
    }
    for href in &listed {
        assert!(hrefs.contains(href), "{href} is in the JSON but not the page");
    }
}
