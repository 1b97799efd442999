//! Nothing leaks, tried as an outsider would: each test is the attacker's request and the answer
//! it must get. Drafts stay with those allowed to see them in subscriptions, change feed cursors
//! and links between offers; imported data passes the API's own validation; HTML pages carry
//! their security headers; a key that cannot be checked writes nothing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tests::{Options, SqliteDatabase, TestServer, WsClient, create_key, import_datatourisme};

const CREATE: &str = "mutation($input: OfferInput!) { createOffer(input: $input) { id version } }";
const UPDATE: &str = "mutation($id: ID!, $v: Int!, $input: OfferInput!) { updateOffer(id: $id, expectedVersion: $v, input: $input) { version } }";
const PUBLISH: &str = "mutation($id: ID!, $v: Int!) { publishOffer(id: $id, expectedVersion: $v) { version } }";
const DELETE: &str = "mutation($id: ID!, $v: Int!) { deleteOffer(id: $id, expectedVersion: $v) { version } }";
const SUBSCRIBE: &str = "subscription { offerChanged { id version action } }";

fn place(name: &str) -> Value {
    json!({ "kind": "SITE", "name": { "fr": name }, "location": { "lat": 50.3836, "lon": 3.4265 } })
}

fn route(name: &str) -> Value {
    json!({ "kind": "ROUTE", "name": { "fr": name }, "location": { "lat": 50.39, "lon": 3.42 } })
}

struct Keys {
    editor: String,
    provider: String,
    other: String,
    partner: String,
}

async fn setup() -> (TestServer, SqliteDatabase, Keys) {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let keys = Keys {
        editor: create_key(&db.url, "office", "editor", None),
        provider: create_key(&db.url, "gite-des-terrils", "provider", Some("gite-des-terrils")),
        other: create_key(&db.url, "camping-du-lac", "provider", Some("camping-du-lac")),
        partner: create_key(&db.url, "louvre-lens", "partner", None),
    };
    (server, db, keys)
}

async fn ok(server: &TestServer, token: &str, query: &str, variables: Value) -> Value {
    let body = server.graphql_as(token, query, variables).await;
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// The `offerChanged` events a subscriber got until the one about `last` (included).
async fn events_until(ws: &mut WsClient, id: &str, last: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let m = ws.next_within(Duration::from_secs(15)).await.unwrap_or_else(|c| panic!("closed: {c:?} after {out:?}"));
        if m["id"] != id {
            continue;
        }
        let e = m["payload"]["data"]["offerChanged"].clone();
        assert!(e.is_object(), "{m}");
        let done = e["id"] == *last;
        out.push(e);
        if done {
            return out;
        }
    }
}

/// Another organisation's draft is created, edited and deleted: the anonymous, partner and
/// other-provider subscribers hear nothing of it, its owner hears all of it; then a publication
/// reaches everyone, as a creation for those who never saw the draft.
#[tokio::test]
async fn subscribers_hear_only_of_what_they_may_read() {
    let (server, _db, k) = setup().await;
    let mut anonymous = WsClient::connect(&server).await;
    let mut partner =
        WsClient::connect_with(&server, &[], json!({ "Authorization": format!("Bearer {}", k.partner) })).await;
    // A browser's key comes in connection_init's payload, a server's in the upgrade's header.
    let mut other =
        WsClient::connect_with(&server, &[("authorization", &format!("Bearer {}", k.other))], json!({})).await;
    let mut owner =
        WsClient::connect_with(&server, &[], json!({ "Authorization": format!("Bearer {}", k.provider) })).await;
    for ws in [&mut anonymous, &mut partner, &mut other, &mut owner] {
        ws.subscribe("s", SUBSCRIBE, json!({})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let draft =
        ok(&server, &k.provider, CREATE, json!({ "input": place("Projet secret") })).await["createOffer"].clone();
    let v = ok(
        &server,
        &k.provider,
        UPDATE,
        json!({ "id": draft["id"], "v": 1, "input": { "name": { "fr": "Projet secret v2" } } }),
    )
    .await["updateOffer"]["version"]
        .clone();
    ok(&server, &k.provider, DELETE, json!({ "id": draft["id"], "v": v })).await;
    let public =
        ok(&server, &k.editor, CREATE, json!({ "input": place("Ouvert à tous") })).await["createOffer"].clone();
    ok(&server, &k.editor, PUBLISH, json!({ "id": public["id"], "v": 1 })).await;

    for (who, ws) in [("anonymous", &mut anonymous), ("partner", &mut partner), ("another provider", &mut other)] {
        let events = events_until(ws, "s", &public["id"]).await;
        assert_eq!(events.len(), 1, "{who} heard of the draft: {events:?}");
        assert_eq!((&events[0]["action"], &events[0]["version"]), (&json!("CREATED"), &json!(2)), "{who}: {events:?}");
    }
    let events = events_until(&mut owner, "s", &public["id"]).await;
    let mine: Vec<&str> =
        events.iter().filter(|e| e["id"] == draft["id"]).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(mine, ["CREATED", "UPDATED", "DELETED"], "the owner follows its draft: {events:?}");
    // A wrong key in the payload refuses the connection.
    let mut wrong = WsClient::connect_raw(&server).await;
    wrong.send_json(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer phk_wrong" } })).await;
    assert_eq!(wrong.next_json_or_close().await.err(), Some(Some(4403)));
}

fn decode_cursor(cursor: &str) -> String {
    String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap()
}

/// Walking the whole change feed anonymously, page by page, from the start: no draft's id in any
/// node nor in any cursor, whether the draft was deleted, is still a draft, or was published
/// then taken back (that one was public: its tombstone is the mirror's business).
#[tokio::test]
async fn walking_the_change_feed_reveals_no_draft() {
    let (server, _db, k) = setup().await;
    let mut drafts = Vec::new();
    for name in ["Brouillon A", "Brouillon B", "Brouillon C"] {
        drafts
            .push(ok(&server, &k.provider, CREATE, json!({ "input": place(name) })).await["createOffer"]["id"].clone());
    }
    ok(&server, &k.provider, DELETE, json!({ "id": drafts[2], "v": 1 })).await;
    let public = ok(&server, &k.editor, CREATE, json!({ "input": place("Publié") })).await["createOffer"]["id"].clone();
    ok(&server, &k.editor, PUBLISH, json!({ "id": public, "v": 1 })).await;
    let unpublish = "mutation($id: ID!, $v: Int!) { unpublishOffer(id: $id, expectedVersion: $v) { version } }";
    ok(&server, &k.editor, unpublish, json!({ "id": public, "v": 2 })).await;
    ok(&server, &k.provider, UPDATE, json!({ "id": drafts[0], "v": 1, "input": { "name": { "fr": "Brouillon A2" } } }))
        .await;

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..200 {
        let path = match &after {
            Some(a) => format!("/feeds/changes?limit=1&after={a}"),
            None => "/feeds/changes?limit=1".to_owned(),
        };
        let page: Value = server.get(&path).await.json().await.unwrap();
        for n in page["nodes"].as_array().unwrap() {
            seen.push(n["id"].as_str().unwrap().to_owned());
            seen.push(decode_cursor(n["cursor"].as_str().unwrap()));
        }
        if let Some(c) = page["endCursor"].as_str() {
            seen.push(decode_cursor(c));
            after = Some(c.to_owned());
        }
        if page["hasNextPage"] == false {
            break;
        }
    }
    let text = seen.join("\n");
    assert!(text.contains(public.as_str().unwrap()), "the once-public offer is in the feed");
    for d in &drafts {
        assert!(!text.contains(d.as_str().unwrap()), "draft {d} leaks through the feed");
    }
    // The same through GraphQL.
    let q = "query($after: String) { changes(first: 1000, after: $after) { nodes { id cursor } endCursor } }";
    let page = server.data(q, json!({})).await;
    let text = page.to_string()
        + &page["changes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| decode_cursor(n["cursor"].as_str().unwrap()))
            .collect::<String>();
    for d in &drafts {
        assert!(!text.contains(d.as_str().unwrap()), "draft {d} leaks through GraphQL changes");
    }
}

/// A provider routing through another organisation's draft gets the answer an unknown id gets,
/// word for word but the id, and no route is drawn through the draft; the same for corrélats.
#[tokio::test]
async fn a_provider_cannot_link_to_a_foreign_draft_nor_tell_it_exists() {
    let (server, _db, k) = setup().await;
    let secret = ok(&server, &k.other, CREATE, json!({ "input": place("Lieu secret") })).await["createOffer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = ok(&server, &k.provider, CREATE, json!({ "input": route("Ma boucle") })).await["createOffer"].clone();
    let fosse = server.data(r#"{ offer(slug: "fosse-d-arenberg") { id } }"#, json!({})).await["offer"]["id"].clone();
    let stages = "mutation($id: ID!, $ids: [ID!]!) { setRouteStages(routeId: $id, expectedVersion: 1, offerIds: $ids) { route { lengthMeters } } }";
    let unknown = "00000000-0000-4000-8000-000000000000";
    let answer = |body: &Value, id: &str| {
        (
            body["errors"][0]["extensions"]["code"].as_str().unwrap_or("none").to_owned(),
            body["errors"][0]["message"].as_str().unwrap_or("").replace(id, "X"),
            body["data"].clone(),
        )
    };
    let through_secret =
        server.graphql_as(&k.provider, stages, json!({ "id": mine["id"], "ids": [fosse, secret] })).await;
    let through_unknown =
        server.graphql_as(&k.provider, stages, json!({ "id": mine["id"], "ids": [fosse, unknown] })).await;
    assert_eq!(answer(&through_secret, &secret).0, "BAD_USER_INPUT", "{through_secret}");
    assert_eq!(answer(&through_secret, &secret), answer(&through_unknown, unknown), "the draft's existence shows");
    assert!(!through_secret.to_string().contains("lengthMeters\":"), "no geometry came back: {through_secret}");
    // Its owner may route through it.
    let theirs = ok(&server, &k.other, CREATE, json!({ "input": route("Leur boucle") })).await["createOffer"].clone();
    ok(&server, &k.other, stages, json!({ "id": theirs["id"], "ids": [fosse, secret] })).await;
    // Reading the draft by id answers as an unknown id does.
    let q = "query($id: ID!) { offer(id: $id) { name } }";
    assert_eq!(server.graphql_as(&k.provider, q, json!({ "id": secret })).await["data"]["offer"], Value::Null);
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datatourisme").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A copy of a real object under another id, changed by `edit`.
fn variant(id: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = fixture("30-0049c43b-5087-3c44-87ef-349d316fc2b8.json");
    v["@id"] = json!(format!("https://data.datatourisme.fr/30/hostile-{id}"));
    v["dc:identifier"] = json!(format!("hostile-{id}"));
    v["rdfs:label"]["fr"] = json!([format!("Objet {id}")]);
    edit(&mut v);
    v
}

/// What the API's own validation refuses, an import refuses too, object by object with the
/// reason, and nothing of it is served; the rest imports.
#[tokio::test]
async fn a_hostile_datatourisme_file_is_rejected_object_by_object() {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_POLL_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let objects = [
        (
            "homepage",
            variant("homepage", |v| v["hasContact"][0]["foaf:homepage"] = json!(["javascript:alert(document.cookie)"])),
        ),
        (
            "email",
            variant("email", |v| v["hasContact"][0]["schema:email"] = json!(["\"><img src=x onerror=alert(1)>"])),
        ),
        (
            "media",
            variant("media", |v| {
                v["hasMainRepresentation"] = json!([{ "ebucore:hasAnnotation": [{ "ebucore:isCoveredBy": ["CC BY"] }],
                    "ebucore:hasRelatedResource": [{ "ebucore:locator": ["javascript:alert(1)"] }] }]);
            }),
        ),
        ("control", variant("control", |v| v["rdfs:label"]["fr"] = json!(["Crêperie\u{7}\u{1b}[31m"]))),
        ("fine", variant("fine", |_| {})),
    ];
    for (name, v) in &objects {
        std::fs::write(dir.path().join(format!("{name}.json")), v.to_string()).unwrap();
    }
    let summary = import_datatourisme(&db.url, &[dir.path()], &["--status", "published"]);
    assert!(summary.starts_with("created 1, updated 0, unchanged 0, rejected 4"), "{summary}");
    for (name, why) in [
        ("homepage", "http or https URL"),
        ("email", "e-mail"),
        ("media", "http or https URL"),
        ("control", "control characters"),
    ] {
        let line = summary.lines().find(|l| l.contains(&format!("{name}.json"))).unwrap_or_else(|| panic!("{summary}"));
        assert!(line.starts_with("rejected ") && line.to_lowercase().contains(&why.to_lowercase()), "{name}: {line}");
    }
    // The good one is served, the rest nowhere.
    for _ in 0..50 {
        if server.data(r#"{ offers(filter: { text: "Objet fine" }) { totalCount } }"#, json!({})).await["offers"]["totalCount"]
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let q = r#"{ offers(filter: { text: "objet" }, first: 100) { nodes { name contact { websites emails } media { url } } } }"#;
    let found = server.data(q, json!({})).await.to_string();
    assert!(found.contains("Objet fine"), "the good object imported: {found}");
    let geojson = server.get("/feeds/offers.geojson?limit=5000").await.text().await.unwrap();
    let jsonld = server.get("/feeds/offers.jsonld?limit=5000").await.text().await.unwrap();
    assert!(geojson.contains("Objet fine") && jsonld.contains("Objet fine"));
    for served in [found, geojson, jsonld] {
        for bad in ["javascript:", "onerror", "\u{7}", "Objet homepage", "Objet media"] {
            assert!(!served.contains(bad), "{bad:?} is served");
        }
    }
}

/// Imports can be drafts for an editor to review: `--status draft` (or `IMPORT_STATUS=draft`).
#[tokio::test]
async fn an_import_as_drafts_publishes_nothing() {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_POLL_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let editor = create_key(&db.url, "office", "editor", None);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datatourisme");
    let summary = import_datatourisme(&db.url, &[&fixtures], &["--status", "draft"]);
    assert!(summary.starts_with("created 6,"), "{summary}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let q = r#"{ offers(filter: { text: "MAZETTE" }) { totalCount } }"#;
    assert_eq!(server.data(q, json!({})).await["offers"]["totalCount"], 0, "drafts are not public");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let imported = entities::prelude::Offer::find()
        .filter(entities::offer::Column::Source.eq("datatourisme"))
        .all(&db.connect().await)
        .await
        .unwrap();
    assert_eq!(imported.len(), 6);
    let by_id = "query($id: ID!) { offer(id: $id) { status } }";
    for o in &imported {
        assert_eq!(o.status, entities::vocab::OfferStatus::Draft, "{}", o.slug);
        assert_eq!(server.data(by_id, json!({ "id": o.id })).await["offer"], Value::Null, "anonymous reads {}", o.slug);
        let seen = server.graphql_as(&editor, by_id, json!({ "id": o.id })).await;
        assert_eq!(seen["data"]["offer"]["status"], "DRAFT", "an editor reviews it: {seen}");
    }
}

/// A zip bomb and a folder that loops through symbolic links end with a clear reason, within
/// bounded work: the bomb's entries are refused by their size or their compression ratio before
/// being inflated, the links are not followed.
#[tokio::test]
async fn a_zip_bomb_and_a_symlink_loop_end_with_a_clear_error() {
    let db = SqliteDatabase::create();
    let _server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let fine = variant("in-zip", |_| {}).to_string();
    let zip = dir.path().join("bomb.zip");
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9)\n\
        z.writestr('objects/big.json', b' ' * (300 * 1024 * 1024))\n\
        z.writestr('objects/dense.json', b'[' + b' ' * (7 * 1024 * 1024) + b']')\n\
        z.writestr('objects/fine.json', sys.argv[2])\n\
        z.close()";
    let status = std::process::Command::new("python3").args(["-c", script]).arg(&zip).arg(&fine).status().unwrap();
    assert!(status.success());
    assert!(std::fs::metadata(&zip).unwrap().len() < 1_000_000, "a small archive");
    let started = std::time::Instant::now();
    let summary = import_datatourisme(&db.url, &[&zip], &[]);
    assert!(summary.starts_with("created 1, updated 0, unchanged 0, rejected 2"), "{summary}");
    assert!(summary.contains("big.json: an object of more than"), "{summary}");
    assert!(summary.contains("dense.json: compressed") && summary.contains("zip bomb"), "{summary}");
    eprintln!("zip bomb refused in {:?}", started.elapsed());

    let folder = dir.path().join("loop");
    std::fs::create_dir(&folder).unwrap();
    std::os::unix::fs::symlink(".", folder.join("a")).unwrap();
    std::os::unix::fs::symlink(".", folder.join("b")).unwrap();
    std::os::unix::fs::symlink("..", folder.join("up")).unwrap();
    std::fs::write(folder.join("one.json"), variant("in-loop", |_| {}).to_string()).unwrap();
    let summary = import_datatourisme(&db.url, &[&folder], &[]);
    assert!(summary.starts_with("created 1, updated 0, unchanged 0, rejected 0"), "{summary}");
}

/// Every HTML page says where its code may come from and refuses to be framed.
#[tokio::test]
async fn html_pages_carry_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/map", "/docs", "/graphql", "/q/ABCDEFG"] {
        let res =
            server.client.get(format!("{}{path}", server.url)).header("accept", "text/html").send().await.unwrap();
        let h = res.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
    let sign = server.get("/assets/map.js").await;
    assert_eq!(sign.headers()["x-content-type-options"], "nosniff");
}
