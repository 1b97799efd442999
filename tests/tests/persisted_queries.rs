//! Automatic persisted queries: a hash stands for a document, shared by every instance through
//! Redis, kept in process without it.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tests::{Options, TestServer, redis_or_skip};

/// A document unique to the run (a comment changes the hash), so Redis holds nothing of it yet.
fn unique_query() -> String {
    format!("# {}\n{{ totems {{ slug }} }}", uuid::Uuid::new_v4())
}

fn hash(query: &str) -> String {
    use std::fmt::Write;
    let digest = sha256(query.as_bytes());
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// The tests compute the hash with the `sha256sum` tool, independently of the server's code.
fn sha256(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

async fn send(server: &TestServer, document: &str, with_document: bool) -> Value {
    let mut body = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash(document) } } });
    if with_document {
        body["query"] = json!(document);
    }
    server.client.post(format!("{}/graphql", server.url)).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn an_unknown_hash_asks_for_the_document_then_is_remembered() {
    let server = TestServer::start().await;
    let query = unique_query();
    let first = send(&server, &query, false).await;
    assert_eq!(first["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{first}");
    let registered = send(&server, &query, true).await;
    assert_eq!(registered["data"]["totems"].as_array().unwrap().len(), 5);
    let by_hash = send(&server, &query, false).await;
    assert_eq!(by_hash["data"], registered["data"]);
    // A document that does not match its hash is refused.
    let res = server
        .client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": "{ themes { code } }", "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash(&query) } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn instances_share_persisted_queries_through_redis() {
    let Some(redis) = redis_or_skip().await else { return };
    let opts = Options { env: vec![("REDIS_URL".into(), redis)], ..Default::default() };
    let a = TestServer::start_with(opts.clone()).await;
    let b = TestServer::start_with(opts).await;
    // Wait until both are connected (they connect in the background).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let query = unique_query();
    assert_eq!(send(&b, &query, false).await["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
    let registered = send(&a, &query, true).await;
    assert!(registered["data"]["totems"].is_array(), "{registered}");
    let on_b = send(&b, &query, false).await;
    assert_eq!(on_b["data"], registered["data"], "{on_b}");
}

#[tokio::test]
async fn a_document_is_kept_only_once_it_ran() {
    let server = TestServer::start().await;
    for bad in
        [format!("# {}\n{{ totems {{ slug }}", uuid::Uuid::new_v4()), format!("# {}\n{{ nope }}", uuid::Uuid::new_v4())]
    {
        let refused = send(&server, &bad, true).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
        let later = send(&server, &bad, false).await;
        assert_eq!(later["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{bad:?} was kept: {later}");
    }
}

#[tokio::test]
async fn anonymous_documents_are_kept_an_hour_and_keyed_ones_thirty_days() {
    let Some(redis) = redis_or_skip().await else { return };
    let db = tests::SqliteDatabase::create();
    let opts = Options {
        database_url: Some(db.url.clone()),
        env: vec![("REDIS_URL".into(), redis.clone())],
        ..Default::default()
    };
    let server = TestServer::start_with(opts).await;
    let token = tests::create_key(&db.url, "site", "partner", None);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let anonymous = unique_query();
    assert!(send(&server, &anonymous, true).await["data"]["totems"].is_array());
    let ttl: i64 = tests::redis_command(&redis, &["TTL", &format!("apq:{}", hash(&anonymous))]).await.parse().unwrap();
    assert!((3500..=3600).contains(&ttl), "anonymous document kept {ttl} s");

    let keyed = unique_query();
    let body =
        json!({ "query": keyed, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash(&keyed) } } });
    let res: Value = server
        .client
        .post(format!("{}/graphql", server.url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(res["data"]["totems"].is_array(), "{res}");
    let ttl: i64 = tests::redis_command(&redis, &["TTL", &format!("apq:{}", hash(&keyed))]).await.parse().unwrap();
    assert!(ttl > 29 * 24 * 3600, "keyed document kept {ttl} s");
}
