//! The whole GraphQL request path over HTTP (body or query string → scan → parse → measure →
//! validate → execute against the real schema and the territory catalog), fed structured
//! documents: deep and wide selections, fragments and fragment bombs, directives, variables and
//! values, over POST, GET and persisted queries. A panic (a 500 from the panic layer) or a request
//! that runs past libFuzzer's timeout is a finding.
#![no_main]
use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tower::ServiceExt;

fuzz_target!(|req: fuzz::Req| {
    let app = fuzz::app();
    let doc = req.document();
    let mut body = json!({ "query": doc, "variables": req.variables() });
    if let Some(name) = req.operation_name() {
        body["operationName"] = json!(name);
    }
    let request = match req.transport % 3 {
        0 => Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/graphql-response+json")
            .body(Body::from(body.to_string())),
        1 => {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("query", &doc)
                .append_pair("variables", &req.variables().to_string())
                .finish();
            Request::get(format!("/graphql?{q}")).body(Body::empty())
        }
        _ => {
            use sha2::Digest;
            let hash: String = sha2::Sha256::digest(doc.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            body["extensions"] = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
            Request::post("/graphql").header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()))
        }
    };
    let Ok(request) = request else { return };
    let status = app.runtime.block_on(async { app.router.clone().oneshot(request).await.map(|r| r.status()) });
    let Ok(status) = status;
    assert!(status.as_u16() != 500, "a 500 for {doc:?}");
});
