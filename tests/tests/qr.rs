//! QR signage and the observatory: codes for editors, redirects only to the website, images that
//! a real decoder (zbar) reads back, signs, scan counts that survive a restart, archived targets,
//! `api qr generate`, `stats` and `/metrics`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use tests::{Options, SqliteDatabase, TestServer, create_key, skip_or_fail};

const WEBSITE: &str = "https://www.tourisme-porteduhainaut.fr";
const PUBLIC: &str = "https://api.porte-du-hainaut.test";

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Decodes the QR code of an image file with zbarimg (SVG is rasterised with rsvg-convert first).
fn decode(file: &Path) -> Option<String> {
    let png = if file.extension().is_some_and(|e| e == "svg") {
        let out = file.with_extension("png");
        match Command::new("rsvg-convert").args(["-w", "600", "-b", "white", "-o"]).arg(&out).arg(file).status() {
            Ok(s) if s.success() => out,
            _ => {
                skip_or_fail("rsvg-convert", "apt-get install librsvg2-bin");
                return None;
            }
        }
    } else {
        file.to_owned()
    };
    match Command::new("zbarimg").args(["--raw", "-q"]).arg(&png).output() {
        Ok(out) => {
            assert!(out.status.success(), "zbarimg found no code in {}", png.display());
            Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
        }
        Err(_) => {
            skip_or_fail("zbarimg", "apt-get install zbar-tools");
            None
        }
    }
}

async fn setup() -> (TestServer, SqliteDatabase, String) {
    let db = SqliteDatabase::create();
    let opts = Options {
        database_url: Some(db.url.clone()),
        env: vec![("PUBLIC_URL".into(), PUBLIC.into())],
        ..Default::default()
    };
    let server = TestServer::start_with(opts).await;
    let editor = create_key(&db.url, "office", "editor", None);
    (server, db, editor)
}

/// The scans of an offer's first code once they reach `expected` and one more flush has passed
/// (they are written to the database every 5 s), or what they are after 15 s.
async fn scans_reach(server: &TestServer, editor: &str, slug: &str, expected: i64) -> i64 {
    let q = "query($s: String!) { offer(slug: $s) { qrCodes { code scans } } }";
    let read = || async {
        let body = server.graphql_as(editor, q, json!({ "s": slug })).await;
        body["data"]["offer"]["qrCodes"][0]["scans"].as_i64().unwrap_or_else(|| panic!("{body}"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while read().await < expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    read().await
}

async fn create_code(server: &TestServer, token: &str, target: &str) -> Value {
    let q = "mutation($t: ID!) { createQrCode(targetId: $t) { code url imageUrl signUrl scans target { ... on Offer { slug } ... on Theme { code } } } }";
    let body = server.graphql_as(token, q, json!({ "t": target })).await;
    body["data"]["createQrCode"].clone()
}

#[tokio::test]
async fn a_code_redirects_a_browser_to_the_website_and_answers_json_clients() {
    let (server, _db, editor) = setup().await;
    // Anonymous clients and partners may not create codes.
    let body = server.graphql("mutation { createQrCode(targetId: \"fosse-d-arenberg\") { code } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let qr = create_code(&server, &editor, "fosse-d-arenberg").await;
    let code = qr["code"].as_str().unwrap().to_owned();
    assert!(
        (6..=8).contains(&code.len()) && code.chars().all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)),
        "{code}"
    );
    assert_eq!(qr["url"], format!("{PUBLIC}/q/{code}"));
    assert_eq!(qr["target"]["slug"], "fosse-d-arenberg");

    let client = no_redirect_client();
    let res = client.get(format!("{}/q/{code}", server.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], format!("{WEBSITE}/offres/fosse-d-arenberg"));
    // Whatever is added to the request, the redirect stays on the website.
    let res = client
        .get(format!("{}/q/{code}?next=https://evil.example&url=//evil.example", server.url))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["location"].to_str().unwrap().starts_with(&format!("{WEBSITE}/")));
    for bad in ["//evil.example", "https:%2F%2Fevil.example", "..%2F..%2Fetc", "ABC", "abcdefg", "0OIL1AB"] {
        let res = client.get(format!("{}/q/{bad}", server.url)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{bad}");
        assert!(res.headers().get("location").is_none());
    }

    let res = client.get(format!("{}/q/{code}", server.url)).header("accept", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["target"]["slug"], "fosse-d-arenberg");
    assert_eq!(body["target"]["kind"], "offer");

    // Three resolutions from one client count once: the count is of people in front of a sign.
    assert_eq!(scans_reach(&server, &editor, "fosse-d-arenberg", 1).await, 1);

    // A theme gets a code too, and an unknown target none.
    let theme = create_code(&server, &editor, "nature").await;
    assert_eq!(theme["target"]["code"], "nature");
    let res = client.get(format!("{}/q/{}", server.url, theme["code"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(res.headers()["location"], format!("{WEBSITE}/themes/nature"));
    let body = server.graphql_as(&editor, "mutation { createQrCode(targetId: \"nowhere\") { code } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    // Unknown codes: a 404 page for people, JSON for clients.
    let res = client.get(format!("{}/q/ABCDEFG", server.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn images_and_signs_decode_to_the_exact_url() {
    let (server, _db, editor) = setup().await;
    let qr = create_code(&server, &editor, "musee-de-la-tour-abbatiale").await;
    let code = qr["code"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (path, name) in [
        (format!("/q/{code}.png"), "code.png"),
        (format!("/q/{code}.png?size=200"), "small.png"),
        (format!("/q/{code}.svg"), "code.svg"),
        (format!("/q/{code}/sign.svg"), "sign.svg"),
    ] {
        let res = server.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct == "image/png" || ct == "image/svg+xml", "{ct}");
        let bytes = res.bytes().await.unwrap();
        if name == "sign.svg" {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.contains("musée de la Tour abbatiale") && text.contains("Découverte"),
                "the sign names the place and its theme"
            );
        }
        let file = dir.path().join(name);
        std::fs::write(&file, &bytes).unwrap();
        let Some(decoded) = decode(&file) else { return };
        assert_eq!(decoded, format!("{PUBLIC}/q/{code}"), "{path}");
    }
    assert_eq!(server.get(&format!("/q/{code}.png?size=5000")).await.status(), 400);
    assert_eq!(server.get("/q/ABCDEFG.png").await.status(), 404);
}

#[tokio::test]
async fn an_archived_target_says_so_and_offers_its_totem() {
    let (server, _db, editor) = setup().await;
    let qr = create_code(&server, &editor, "cite-sabatier").await;
    let code = qr["code"].as_str().unwrap();
    let o = server.data(r#"{ offer(slug: "cite-sabatier") { id version } }"#, json!({})).await["offer"].clone();
    let body = server
        .graphql_as(
            &editor,
            "mutation($id: ID!, $v: Int!) { archiveOffer(id: $id, expectedVersion: $v) { status } }",
            json!({ "id": o["id"], "v": o["version"] }),
        )
        .await;
    assert_eq!(body["data"]["archiveOffer"]["status"], "ARCHIVED", "{body}");
    let res = no_redirect_client()
        .get(format!("{}/q/{code}", server.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let html = res.text().await.unwrap();
    assert!(html.contains("archivé") && html.contains(&format!("{WEBSITE}/offres/fosse-d-arenberg")), "{html}");
    let res = no_redirect_client()
        .get(format!("{}/q/{code}", server.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totem"]["url"], format!("{WEBSITE}/offres/fosse-d-arenberg"));
}

#[tokio::test]
async fn a_code_unknown_a_moment_ago_resolves_once_another_process_creates_it() {
    use sea_orm::ConnectionTrait;
    let (server, db, _editor) = setup().await;
    let resolve = || async {
        no_redirect_client()
            .get(format!("{}/q/ZZZZ7ZZ", server.url))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
    };
    assert_eq!(resolve().await.status(), 404);
    // Another process (`api qr generate`, another instance) writes the code to the database.
    let conn = sea_orm::Database::connect(db.url.as_str()).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO qr_codes (code, target_kind, target_id, created_at) \
         VALUES ('ZZZZ7ZZ', 'theme', 'nature', '2026-11-27 12:00:00+00:00')",
    )
    .await
    .unwrap();
    // The 404 was not remembered; the code, once read, keeps its one target.
    for _ in 0..2 {
        let res = resolve().await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["redirect"], format!("{WEBSITE}/themes/nature"), "{body}");
    }
}

#[tokio::test]
async fn qr_generate_gives_every_totem_and_correlate_one_code_once() {
    let (server, db, editor) = setup().await;
    let run = || {
        let out = Command::new(tests::server_binary())
            .env("DATABASE_URL", &db.url)
            .args(["qr", "generate"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run();
    run();
    let q = "{ totems { slug qrCodes { code } correlates(first: 100) { slug qrCodes { code } } } }";
    let data = server.graphql_as(&editor, q, json!({})).await["data"].clone();
    for t in data["totems"].as_array().unwrap() {
        assert_eq!(t["qrCodes"].as_array().unwrap().len(), 1, "{}", t["slug"]);
        for c in t["correlates"].as_array().unwrap() {
            assert_eq!(c["qrCodes"].as_array().unwrap().len(), 1, "{}", c["slug"]);
        }
    }
}

#[tokio::test]
async fn scans_counted_in_redis_survive_a_restart() {
    let Some(redis) = tests::redis_or_skip().await else { return };
    let db = SqliteDatabase::create();
    // The test client stands for a load balancer in front of four visitors.
    let opts = Options {
        database_url: Some(db.url.clone()),
        env: vec![("REDIS_URL".into(), redis), ("TRUSTED_PROXIES".into(), "127.0.0.1".into())],
        ..Default::default()
    };
    let mut server = TestServer::start_with(opts.clone()).await;
    let editor = create_key(&db.url, "office", "editor", None);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let code = create_code(&server, &editor, "fosse-mathilde").await["code"].as_str().unwrap().to_owned();
    for visitor in
        ["198.51.100.1", "198.51.100.2", "2001:db8:1:1::1", "198.51.100.1", "2001:db8:2:1::1", "2001:db8:1:1::77"]
    {
        let res = no_redirect_client()
            .get(format!("{}/q/{code}", server.url))
            .header("x-forwarded-for", visitor)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
    }
    // Stop at once (before the periodic flush): the shutdown flush must keep the counts.
    Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    assert_eq!(server.wait_exit(std::time::Duration::from_secs(10)), Some(true));
    let server = TestServer::start_with(opts).await;
    let q = r#"{ stats { scansByCode { key count } mostScanned { id name scans } scansByDay { key count } } }"#;
    let stats = server.graphql_as(&editor, q, json!({})).await;
    let by_code = stats["data"]["stats"]["scansByCode"].as_array().unwrap();
    let mine = by_code.iter().find(|c| c["key"] == code.as_str()).unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(mine["count"], 4);
    assert_eq!(stats["data"]["stats"]["mostScanned"][0]["name"], "Fosse Mathilde");
    assert_eq!(stats["data"]["stats"]["scansByDay"].as_array().unwrap().last().unwrap()["count"], 4);
}

#[tokio::test]
async fn the_observatory_is_for_editors_and_metrics_for_prometheus() {
    let (server, db, editor) = setup().await;
    let partner = create_key(&db.url, "partner", "partner", None);
    let q = "{ stats { offersByKind { key count } offersByTheme { key label count } offersByCommune { key label count } accommodationByCommune { commune beds } staleOffers { slug } } }";
    assert_eq!(server.graphql(q, json!({})).await["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(server.graphql_as(&partner, q, json!({})).await["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let stats = server.graphql_as(&editor, q, json!({})).await["data"]["stats"].clone();
    let site = stats["offersByKind"].as_array().unwrap().iter().find(|c| c["key"] == "site").unwrap().clone();
    assert_eq!(site["count"], 62);
    assert_eq!(stats["offersByCommune"].as_array().unwrap().len(), 47);
    let wallers = stats["offersByCommune"].as_array().unwrap().iter().find(|c| c["key"] == "59632").unwrap().clone();
    assert_eq!(wallers["label"], "Wallers");
    assert!(
        stats["offersByTheme"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "decouverte" && t["label"] == "Découverte")
    );
    assert_eq!(stats["staleOffers"], json!([]));

    server.get("/tiles/communes/10/521/345.mvt").await;
    server.get("/tiles/communes/10/521/345.mvt").await;
    let res = server.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    for needle in [
        "porte_du_hainaut_http_requests_total{route=\"/tiles/{layers}/{z}/{x}/{y}\",status=\"200\"} 2",
        "porte_du_hainaut_http_request_duration_seconds_bucket",
        "porte_du_hainaut_cache_requests_total{kind=\"tile\",result=\"hit\"} 1",
        "porte_du_hainaut_cache_requests_total{kind=\"tile\",result=\"miss\"} 1",
        "porte_du_hainaut_catalog_offers 73",
        "porte_du_hainaut_catalog_version",
        "porte_du_hainaut_qr_scans 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

/// An attacker's `Host` header: with `PUBLIC_URL` set, no URL anywhere follows it, not in a QR
/// code (read back by zbar), a sign, GraphQL, TileJSON, the style, the feeds' `Link` headers nor
/// the OGC API.
#[tokio::test]
async fn a_forged_host_changes_no_url_when_public_url_is_set() {
    let (server, _db, editor) = setup().await;
    let code = create_code(&server, &editor, "fosse-d-arenberg").await["code"].as_str().unwrap().to_owned();
    let forged = |path: &str| server.client.get(format!("{}{path}", server.url)).header("host", "evil.example");
    let dir = tempfile::tempdir().unwrap();
    let png = forged(&format!("/q/{code}.png")).send().await.unwrap();
    assert_eq!(png.status(), 200);
    let file = dir.path().join("forged.png");
    std::fs::write(&file, png.bytes().await.unwrap()).unwrap();
    if let Some(decoded) = decode(&file) {
        assert_eq!(decoded, format!("{PUBLIC}/q/{code}"));
    }
    let mut bodies = Vec::new();
    for path in [
        format!("/q/{code}/sign.svg"),
        format!("/q/{code}.svg"),
        "/tiles/offers.json".to_owned(),
        "/tiles/style.json".to_owned(),
        "/layers".to_owned(),
        "/ogc/collections/offers/items?limit=2".to_owned(),
        "/feeds/offers.geojson?limit=1".to_owned(),
    ] {
        let res = forged(&path).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let link = res.headers().get("link").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(!link.contains("evil.example"), "{path}: Link {link}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("evil.example"), "{path} follows the forged Host");
        bodies.push((path, body));
    }
    assert!(bodies.iter().any(|(_, b)| b.contains(PUBLIC)), "the documents link to PUBLIC_URL");
    let q = r#"{ offer(slug: "fosse-d-arenberg") { qrCodes { url imageUrl signUrl } } }"#;
    let body: Value = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("host", "evil.example")
        .header("authorization", format!("Bearer {editor}"))
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let urls = body["data"]["offer"]["qrCodes"][0].clone();
    assert_eq!(urls["url"], format!("{PUBLIC}/q/{code}"), "{body}");
    assert!(!urls.to_string().contains("evil.example"), "{urls}");
}

/// Without `PUBLIC_URL` (a server on loopback), links follow the request's `Host`: such answers
/// say `Vary: Host` and no shared cache may keep them.
#[tokio::test]
async fn without_public_url_answers_vary_by_host_and_are_not_publicly_cached() {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let editor = create_key(&db.url, "office", "editor", None);
    let code = create_code(&server, &editor, "fosse-d-arenberg").await["code"].as_str().unwrap().to_owned();
    for path in [format!("/q/{code}.png"), "/tiles/offers.json".to_owned(), "/feeds/offers.geojson?limit=1".to_owned()]
    {
        let res =
            server.client.get(format!("{}{path}", server.url)).header("host", "evil.example").send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let vary: Vec<String> =
            res.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_ascii_lowercase()).collect();
        assert!(vary.iter().any(|v| v.split(',').any(|h| h.trim() == "host")), "{path}: Vary {vary:?}");
        let cache = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(!cache.contains("public"), "{path}: Cache-Control {cache}");
    }
}

/// A server listening beyond loopback without `PUBLIC_URL` does not start: its links would come
/// from whatever `Host` a client sends.
#[tokio::test]
async fn a_server_on_a_public_address_refuses_to_start_without_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(tests::server_binary())
        .current_dir(dir.path())
        .env("BIND", "0.0.0.0:0")
        .env_remove("PUBLIC_URL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PUBLIC_URL is required"), "{stderr}");
    // With it, the same address is fine (checked without serving: a bad PUBLIC_URL is refused too).
    let out = Command::new(tests::server_binary())
        .current_dir(dir.path())
        .env("BIND", "0.0.0.0:0")
        .env("PUBLIC_URL", "javascript:alert(1)")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PUBLIC_URL"), "a bad PUBLIC_URL is named");
}

/// Scan counts are the observatory's: editors read them, nobody else, and a script replaying a
/// code adds one scan, not thousands.
#[tokio::test]
async fn scans_are_for_editors_and_a_replayed_code_counts_once() {
    let (server, db, editor) = setup().await;
    let partner = create_key(&db.url, "partner", "partner", None);
    let code = create_code(&server, &editor, "fosse-d-arenberg").await["code"].as_str().unwrap().to_owned();
    let client = no_redirect_client();
    for _ in 0..200 {
        assert_eq!(client.get(format!("{}/q/{code}", server.url)).send().await.unwrap().status(), 302);
    }
    assert_eq!(scans_reach(&server, &editor, "fosse-d-arenberg", 1).await, 1, "one client, one scan");
    let q = r#"{ offer(slug: "fosse-d-arenberg") { qrCodes { code scans } } }"#;
    for (who, body, expected) in [
        ("anonymous", server.graphql(q, json!({})).await, "UNAUTHENTICATED"),
        ("partner", server.graphql_as(&partner, q, json!({})).await, "FORBIDDEN"),
    ] {
        assert_eq!(body["errors"][0]["extensions"]["code"], expected, "{who}: {body}");
        assert_eq!(body["data"]["offer"]["qrCodes"][0]["code"], code.as_str(), "{who} sees the code: {body}");
        assert_eq!(body["data"]["offer"]["qrCodes"][0]["scans"], Value::Null, "{who} sees no count: {body}");
    }
}
