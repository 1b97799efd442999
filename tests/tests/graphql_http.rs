//! GraphQL over HTTP checked by an independent client: the `graphql-http` package's server audit
//! must report no error and no warning; plus the cases a client relies on most.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};
use tests::{TestServer, skip_or_fail};

#[tokio::test]
async fn graphql_http_audit_reports_no_error_and_no_warning() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    if !js.join("node_modules/graphql-http").exists() {
        skip_or_fail("npm graphql-http", "run scripts/install-test-tools.sh");
        return;
    }
    let server = TestServer::start().await;
    let out = tokio::process::Command::new("node")
        .arg(js.join("graphql-http-audit.mjs"))
        .arg(format!("{}/graphql", server.url))
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(results.len() > 40, "the audit ran {} checks", results.len());
    let failures: Vec<&Value> = results.iter().filter(|r| r["status"] != "ok").collect();
    assert!(failures.is_empty(), "audit failures: {failures:#?}");
}

async fn post(server: &TestServer, accept: &str, body: &str) -> (u16, String, Value) {
    let res = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn request_errors_are_4xx_with_graphql_response_json() {
    let server = TestServer::start().await;
    let gr = "application/graphql-response+json";
    let (status, ct, body) = post(&server, gr, r#"{"query": "{ offers { "}"#).await;
    assert_eq!(status, 400);
    assert!(ct.starts_with(gr));
    assert!(body.get("data").is_none(), "no data entry on a request error: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let (status, _, body) = post(&server, gr, r#"{"query": "{ nope }"}"#).await;
    assert_eq!(status, 400, "validation failure: {body}");

    // The legacy media type answers well-formed requests with 200.
    let (status, ct, _) = post(&server, "application/json", r#"{"query": "{ nope }"}"#).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));

    let (status, _, _) = post(&server, gr, "not json").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn mutations_are_refused_over_get_and_browsers_get_graphiql() {
    let server = TestServer::start().await;
    let res = server
        .client
        .get(format!("{}/graphql", server.url))
        .query(&[("query", "mutation { createOffer }")])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    let res = server.client.get(format!("{}/graphql", server.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().to_lowercase().contains("graphiql"));

    let res = server
        .client
        .get(format!("{}/graphql", server.url))
        .query(&[("query", "{ totems { slug } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["totems"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn abusive_queries_get_a_clear_error() {
    let server = TestServer::start().await;
    // Too deep.
    let deep = "{ offers(first: 1) { edges { node { totems { correlates(first: 1) { totems { correlates(first: 1) { totems { correlates(first: 1) { totems { correlates(first: 1) { totems { name } } } } } } } } } } } } }";
    let body = server.graphql(deep, json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("too deep"), "{body}");
    // Too complex: pages of 100 nested in pages of 100.
    let wide = "{ offers(first: 100) { edges { node { nearby(first: 100) { correlates(first: 100) { name } } } } } }";
    let body = server.graphql(wide, json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("complex"), "{body}");
    // Too many aliases.
    let aliases: String = (0..40).map(|i| format!("a{i}: totems {{ name }} ")).collect();
    let body = server.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("aliases"), "{body}");
    // A huge body.
    let huge = format!(r#"{{"query": "{{ totems {{ name }} }}", "variables": {{"x": "{}"}}}}"#, "a".repeat(1_000_000));
    let res = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // And the server is still well (on a new connection: the refused one was closed).
    assert_eq!(reqwest::get(format!("{}/healthz", server.url)).await.unwrap().status(), 200);
}
