//! Editing the offer: keys and roles, validation with field paths and nothing written, optimistic
//! concurrency under real concurrent requests, revisions, the change feed with tombstones,
//! subscriptions, and two instances sharing PostgreSQL and Redis.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tests::{Options, PgDatabase, SqliteDatabase, TcpProxy, TestServer, create_key, redis_or_skip, run_checker};

const CREATE: &str =
    "mutation($input: OfferInput!) { createOffer(input: $input) { id slug status version owner commune { code } } }";
const UPDATE: &str = "mutation($id: ID!, $v: Int!, $input: OfferInput!) { updateOffer(id: $id, expectedVersion: $v, input: $input) { id version name status } }";
const PUBLISH: &str =
    "mutation($id: ID!, $v: Int!) { publishOffer(id: $id, expectedVersion: $v) { id version status } }";

fn event(name: &str) -> Value {
    json!({ "kind": "EVENT", "name": { "fr": name }, "location": { "lat": 50.3836, "lon": 3.4265 }, "themes": ["sport"] })
}

struct Setup {
    server: TestServer,
    url: String,
    admin: String,
    editor: String,
    provider: String,
    other_provider: String,
    partner: String,
}

async fn setup() -> (Setup, SqliteDatabase) {
    let db = SqliteDatabase::create();
    (setup_on(&db.url).await, db)
}

async fn setup_on(url: &str) -> Setup {
    // Start once so the database is migrated and seeded, then create the keys.
    let server = TestServer::start_with(Options { database_url: Some(url.to_owned()), ..Default::default() }).await;
    let admin = create_key(url, "office-admin", "admin", None);
    let editor = create_key(url, "office-editor", "editor", None);
    let provider = create_key(url, "gite-des-terrils", "provider", Some("gite-des-terrils"));
    let other_provider = create_key(url, "camping-du-lac", "provider", Some("camping-du-lac"));
    let partner = create_key(url, "louvre-lens", "partner", None);
    Setup { server, url: url.to_owned(), admin, editor, provider, other_provider, partner }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("none")
}

#[tokio::test]
async fn each_role_may_do_what_it_may_and_no_more() {
    let (s, _db) = setup().await;
    // Anonymous: no writes.
    let body = s.server.graphql(CREATE, json!({ "input": event("Anonyme") })).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // A wrong key is refused outright.
    let body = s.server.graphql_as("phk_wrong", "{ totems { name } }", json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // A partner reads but may not write.
    let body = s.server.graphql_as(&s.partner, CREATE, json!({ "input": event("Partenaire") })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(s.server.graphql_as(&s.partner, "{ totems { name } }", json!({})).await["data"]["totems"].is_array());

    // A provider creates a draft owned by its organisation, edits and publishes it.
    let body = s.server.graphql_as(&s.provider, CREATE, json!({ "input": event("Fête du gîte") })).await;
    let created = &body["data"]["createOffer"];
    assert_eq!(created["status"], "DRAFT", "{body}");
    assert_eq!(created["owner"], "gite-des-terrils");
    let id = created["id"].as_str().unwrap().to_owned();
    // A draft is invisible to the public, visible to its provider and to editors.
    let q = "query($id: ID!) { offer(id: $id) { id status } }";
    assert_eq!(s.server.graphql(q, json!({ "id": id })).await["data"]["offer"], Value::Null);
    assert_eq!(s.server.graphql_as(&s.provider, q, json!({ "id": id })).await["data"]["offer"]["status"], "DRAFT");
    assert_eq!(s.server.graphql_as(&s.editor, q, json!({ "id": id })).await["data"]["offer"]["status"], "DRAFT");
    assert_eq!(s.server.graphql_as(&s.other_provider, q, json!({ "id": id })).await["data"]["offer"], Value::Null);

    // Another provider may not touch it, nor change owners; a draft not its own does not even
    // exist for it (as an unknown id would not).
    let body = s
        .server
        .graphql_as(&s.other_provider, UPDATE, json!({ "id": id, "v": 1, "input": { "name": { "fr": "Volé" } } }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = s
        .server
        .graphql_as(&s.provider, UPDATE, json!({ "id": id, "v": 1, "input": { "owner": "camping-du-lac" } }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = s.server.graphql_as(&s.other_provider, PUBLISH, json!({ "id": id, "v": 1 })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    // Nor may a provider edit the territory's offers.
    let fosse = s.server.data(r#"{ offer(slug: "fosse-d-arenberg") { id version } }"#, json!({})).await;
    let body = s
        .server
        .graphql_as(
            &s.provider,
            UPDATE,
            json!({ "id": fosse["offer"]["id"], "v": fosse["offer"]["version"], "input": { "name": { "fr": "x" } } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let body = s.server.graphql_as(&s.provider, PUBLISH, json!({ "id": id, "v": 1 })).await;
    assert_eq!(body["data"]["publishOffer"]["status"], "PUBLISHED", "{body}");
    assert_eq!(s.server.graphql(q, json!({ "id": id })).await["data"]["offer"]["status"], "PUBLISHED");

    // Editors edit anything; only they (and admins) set corrélats.
    let body = s
        .server
        .graphql_as(&s.editor, UPDATE, json!({ "id": id, "v": 2, "input": { "owner": "camping-du-lac" } }))
        .await;
    assert_eq!(body["data"]["updateOffer"]["version"], 3, "{body}");
    let set = "mutation($t: ID!, $v: Int!, $ids: [ID!]!) { setCorrelates(totemId: $t, expectedVersion: $v, offerIds: $ids) { id version correlates(first: 100) { id } } }";
    let totem = s
        .server
        .data(r#"{ offer(slug: "bassin-rond") { id version correlates(first: 100) { id } } }"#, json!({}))
        .await["offer"]
        .clone();
    let mut ids: Vec<Value> = totem["correlates"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    ids.push(json!(id));
    let body =
        s.server.graphql_as(&s.provider, set, json!({ "t": totem["id"], "v": totem["version"], "ids": ids })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = s.server.graphql_as(&s.admin, set, json!({ "t": totem["id"], "v": totem["version"], "ids": ids })).await;
    let linked: Vec<&str> = body["data"]["setCorrelates"]["correlates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&id.as_str()), "{body}");
}

#[tokio::test]
async fn bad_input_is_refused_with_its_field_and_nothing_is_written() {
    let (s, _db) = setup().await;
    let before = s.server.data("{ offers(first: 1) { totalCount } }", json!({})).await;
    let square = |close: bool| {
        let mut ring = vec![json!([3.42, 50.38]), json!([3.43, 50.38]), json!([3.43, 50.39]), json!([3.42, 50.39])];
        if close {
            ring.push(json!([3.42, 50.38]));
        }
        json!({ "type": "Polygon", "coordinates": [ring] })
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 } }), "input.kind"),
        (
            json!({ "kind": "SITE", "name": { "en": "only english" }, "location": { "lat": 50.38, "lon": 3.42 } }),
            "input.name.fr",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 95.0, "lon": 3.42 } }),
            "input.location.lat",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "Paris" }, "location": { "lat": 48.85, "lon": 2.35 } }),
            "input.location",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "commune": "59526" }),
            "input.location",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "commune": "00000" }),
            "input.commune",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "geometry": square(false) }),
            "input.geometry",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "geometry": { "type": "Polygon", "coordinates": [[[3.42,50.38],[3.43,50.39],[3.43,50.38],[3.42,50.39],[3.42,50.38]]] } }),
            "input.geometry",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "geometry": { "type": "Nonsense" } }),
            "input.geometry",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "slug": "Not A Slug" }),
            "input.slug",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "slug": "fosse-d-arenberg", "location": { "lat": 50.38, "lon": 3.42 } }),
            "input.slug",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "contact": { "websites": ["javascript:alert(1)"] } }),
            "input.contact.websites[0]",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "contact": { "emails": ["nobody"] } }),
            "input.contact.emails[0]",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "contact": { "phones": ["call me maybe"] } }),
            "input.contact.phones[0]",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "openingHours": "when the sun shines" }),
            "input.openingHours",
        ),
        (
            // Found by fuzzing: it tripped a debug assertion of the parser.
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "openingHours": "20:00-8:00/24:00" }),
            "input.openingHours",
        ),
        (
            json!({ "kind": "ACCOMMODATION", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "capacity": { "beds": -2 } }),
            "input.capacity.beds",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x".repeat(300) }, "location": { "lat": 50.38, "lon": 3.42 } }),
            "input.name.fr",
        ),
        (
            json!({ "kind": "SITE", "name": { "fr": "x" }, "location": { "lat": 50.38, "lon": 3.42 }, "themes": ["castles"] }),
            "input.themes[0]",
        ),
    ];
    for (input, field) in cases {
        let body = s.server.graphql_as(&s.editor, CREATE, json!({ "input": input })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}: {body}");
    }
    // An unknown language is refused by the schema itself.
    let body = s.server.graphql_as(&s.editor, CREATE, json!({ "input": { "kind": "SITE", "name": { "fr": "x", "it": "y" }, "location": { "lat": 50.38, "lon": 3.42 } } })).await;
    assert!(body["errors"].is_array(), "{body}");
    // Nothing was written: same count for the editor, no change in the feed.
    let after = s.server.data("{ offers(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(before, after);
    use sea_orm::{EntityTrait, PaginatorTrait};
    let conn = sea_orm::Database::connect(&s.url).await.unwrap();
    assert_eq!(entities::prelude::Offer::find().count(&conn).await.unwrap(), 73, "no offer row was added");
    // A name whose slug is taken gets a distinct one; an explicit slug must be free (above).
    let body = s.server.graphql_as(&s.editor, CREATE, json!({ "input": { "kind": "SITE", "name": { "fr": "Fosse d'Arenberg" }, "location": { "lat": 50.38, "lon": 3.42 } } })).await;
    let slug = body["data"]["createOffer"]["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("fosse-d-arenberg-") && slug.len() == "fosse-d-arenberg-".len() + 8, "{body}");
}

#[tokio::test]
async fn occurrences_and_media_are_replaced_whole_and_checked() {
    let (s, _db) = setup().await;
    let body = s.server.graphql_as(&s.editor, CREATE, json!({ "input": event("Concert au Bassin Rond") })).await;
    let id = body["data"]["createOffer"]["id"].as_str().unwrap().to_owned();
    let read = |token: String, id: String| {
        let server = &s.server;
        async move {
            let q = "query($id: ID!) { offer(id: $id) { version occurrences { start end } media { url licence } } }";
            server.graphql_as(&token, q, json!({ "id": id })).await["data"]["offer"].clone()
        }
    };
    let set_occurrences = "mutation($id: ID!, $v: Int!, $o: [OccurrenceInput!]!) { setOccurrences(id: $id, expectedVersion: $v, occurrences: $o) { version } }";
    let day = |d: u32, h: u32| format!("2031-05-0{d}T{h}:00:00Z");
    let list = json!([
        { "start": day(3, 10), "end": day(3, 12) },
        { "start": day(1, 10), "end": day(1, 12) },
    ]);
    let body = s.server.graphql_as(&s.editor, set_occurrences, json!({ "id": id, "v": 1, "o": list })).await;
    assert_eq!(body["data"]["setOccurrences"]["version"], 2, "{body}");
    let offer = read(s.editor.clone(), id.clone()).await;
    let starts: Vec<&str> =
        offer["occurrences"].as_array().unwrap().iter().map(|o| o["start"].as_str().unwrap()).collect();
    assert_eq!(starts.len(), 2, "{offer}");
    assert!(starts[0].starts_with("2031-05-01T10:00:00") && starts[1].starts_with("2031-05-03T10:00:00"), "{offer}");

    // A bad item names its field, and nothing is written.
    let bad = json!([{ "start": day(4, 10), "end": day(4, 12) }, { "start": day(5, 12), "end": day(5, 10) }]);
    let body = s.server.graphql_as(&s.editor, set_occurrences, json!({ "id": id, "v": 2, "o": bad })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "occurrences[1].end", "{body}");
    assert_eq!(read(s.editor.clone(), id.clone()).await, offer, "nothing written");

    let set_media = "mutation($id: ID!, $v: Int!, $m: [MediaInput!]!) { setMedia(id: $id, expectedVersion: $v, media: $m) { version } }";
    let picture =
        |n: u32| json!({ "kind": "IMAGE", "url": format!("https://example.org/{n}.jpg"), "licence": "CC BY 4.0" });
    let body =
        s.server.graphql_as(&s.editor, set_media, json!({ "id": id, "v": 2, "m": [picture(2), picture(1)] })).await;
    assert_eq!(body["data"]["setMedia"]["version"], 3, "{body}");
    let urls = |offer: &Value| -> Vec<String> {
        offer["media"].as_array().unwrap().iter().map(|m| m["url"].as_str().unwrap().to_owned()).collect()
    };
    let offer = read(s.editor.clone(), id.clone()).await;
    assert_eq!(urls(&offer), ["https://example.org/2.jpg", "https://example.org/1.jpg"], "in the order given");
    let hostile = json!([{ "kind": "IMAGE", "url": "javascript:alert(1)", "licence": "CC BY 4.0" }]);
    let body = s.server.graphql_as(&s.editor, set_media, json!({ "id": id, "v": 3, "m": hostile })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(read(s.editor.clone(), id.clone()).await, offer, "nothing written");
    let body = s.server.graphql_as(&s.editor, set_media, json!({ "id": id, "v": 3, "m": [] })).await;
    assert_eq!(body["data"]["setMedia"]["version"], 4, "{body}");
    assert_eq!(urls(&read(s.editor.clone(), id.clone()).await), Vec::<String>::new());
}

#[tokio::test]
async fn two_concurrent_writers_never_both_win_on_sqlite() {
    let (s, _db) = setup().await;
    concurrent_writers(&s).await;
}

#[tokio::test]
async fn two_concurrent_writers_never_both_win_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let s = setup_on(&pg.url).await;
    concurrent_writers(&s).await;
}

async fn concurrent_writers(s: &Setup) {
    let created =
        s.server.graphql_as(&s.editor, CREATE, json!({ "input": event("Course") })).await["data"]["createOffer"]
            .clone();
    let id = created["id"].as_str().unwrap().to_owned();
    let mut handles = Vec::new();
    for i in 0..8 {
        let url = s.server.url.clone();
        let token = s.editor.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            let body = json!({ "query": UPDATE, "variables": { "id": id, "v": 1, "input": { "name": { "fr": format!("Écrit par {i}") } } } });
            let r: Value = reqwest::Client::new().post(format!("{url}/graphql")).bearer_auth(token).json(&body).send().await.unwrap().json().await.unwrap();
            r
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for h in handles {
        let r = h.await.unwrap();
        if r["data"]["updateOffer"].is_object() {
            winners.push(r["data"]["updateOffer"]["name"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(code(&r), "CONFLICT", "{r}");
            assert_eq!(r["errors"][0]["extensions"]["currentVersion"], 2, "{r}");
            conflicts += 1;
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    assert_eq!(conflicts, 7);
    let q = "query($id: ID!) { offer(id: $id) { name version revisions { version action actor before } } }";
    let now = s.server.graphql_as(&s.editor, q, json!({ "id": id })).await["data"]["offer"].clone();
    assert_eq!(now["name"], winners[0].as_str(), "the winner's edit is the one kept");
    assert_eq!(now["version"], 2);
    let revisions = now["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{now}");
    assert_eq!(revisions[0]["action"], "UPDATE");
    assert_eq!(revisions[0]["actor"], "editor:office-editor");
    assert_eq!(revisions[0]["before"]["name"]["fr"], "Course", "the revision keeps what it was before");
    assert_eq!(revisions[1]["action"], "CREATE");
    // Revisions are for editors only.
    let body = s
        .server
        .graphql_as(&s.partner, "query($id: ID!) { offer(id: $id) { revisions { version } } }", json!({ "id": id }))
        .await;
    assert!(body["errors"].is_array() || body["data"]["offer"].is_null(), "{body}");
}

#[tokio::test]
async fn the_change_feed_carries_upserts_and_tombstones_in_order() {
    let (s, _db) = setup().await;
    let first = s.server.data("{ changes(first: 1000) { nodes { id kind } endCursor hasNextPage } }", json!({})).await;
    assert_eq!(first["changes"]["nodes"].as_array().unwrap().len(), 73);
    assert_eq!(first["changes"]["hasNextPage"], false);
    let cursor = first["changes"]["endCursor"].clone();

    let a = s.server.graphql_as(&s.editor, CREATE, json!({ "input": event("A") })).await["data"]["createOffer"]["id"]
        .clone();
    s.server.graphql_as(&s.editor, PUBLISH, json!({ "id": a, "v": 1 })).await;
    let fosse = s.server.data(r#"{ offer(slug: "cite-lagrange") { id version } }"#, json!({})).await["offer"].clone();
    let del = "mutation($id: ID!, $v: Int!) { deleteOffer(id: $id, expectedVersion: $v) { version } }";
    let body = s.server.graphql_as(&s.editor, del, json!({ "id": fosse["id"], "v": fosse["version"] })).await;
    assert!(body["data"]["deleteOffer"].is_object(), "{body}");

    let next = s
        .server
        .data(
            "query($after: String) { changes(after: $after) { nodes { id kind reason version } endCursor } }",
            json!({ "after": cursor }),
        )
        .await;
    let nodes = next["changes"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{next}");
    assert_eq!(nodes[0]["id"], a);
    assert_eq!(nodes[0]["kind"], "UPSERT");
    assert_eq!(nodes[1]["id"], fosse["id"]);
    assert_eq!(nodes[1]["kind"], "TOMBSTONE");
    assert_eq!(nodes[1]["reason"], "deleted");
    // The deleted offer is gone from public reads; restoring brings it back.
    assert_eq!(s.server.data(r#"{ offer(slug: "cite-lagrange") { id } }"#, json!({})).await["offer"], Value::Null);
    let rest = "mutation($id: ID!, $v: Int!) { restoreOffer(id: $id, expectedVersion: $v) { version } }";
    let v = fosse["version"].as_i64().unwrap() + 1;
    assert!(
        s.server.graphql_as(&s.editor, rest, json!({ "id": fosse["id"], "v": v })).await["data"]["restoreOffer"]
            .is_object()
    );
    assert!(s.server.data(r#"{ offer(slug: "cite-lagrange") { id } }"#, json!({})).await["offer"].is_object());
    // The same feed over REST.
    let rest: Value = s
        .server
        .get(&format!("/feeds/changes?after={}", next["changes"]["endCursor"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["nodes"][0]["id"], fosse["id"]);
    assert_eq!(rest["nodes"][0]["kind"], "UPSERT");
    // A draft deleted before it was ever published leaves nothing for a mirror to remove; a
    // published offer taken back to draft is a tombstone.
    let b = s.server.graphql_as(&s.editor, CREATE, json!({ "input": event("B") })).await["data"]["createOffer"]["id"]
        .clone();
    let body = s.server.graphql_as(&s.editor, del, json!({ "id": b, "v": 1 })).await;
    assert!(body["data"]["deleteOffer"].is_object(), "{body}");
    let unpublish = "mutation($id: ID!, $v: Int!) { unpublishOffer(id: $id, expectedVersion: $v) { version } }";
    let body = s.server.graphql_as(&s.editor, unpublish, json!({ "id": a, "v": 2 })).await;
    assert!(body["data"]["unpublishOffer"].is_object(), "{body}");
    let later: Value = s
        .server
        .get(&format!("/feeds/changes?after={}", rest["endCursor"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let nodes = later["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{later}");
    assert_eq!(
        (&nodes[0]["id"], &nodes[0]["kind"], &nodes[0]["reason"]),
        (&a, &json!("TOMBSTONE"), &json!("unpublished"))
    );
    assert_eq!(later["endCursor"], nodes[0]["cursor"]);
}

#[tokio::test]
async fn subscribers_hear_of_changes() {
    let (s, _db) = setup().await;
    let ws = format!("{}/graphql/ws", s.server.url.replace("http://", "ws://"));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/subscribe.mjs");
    if !std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/node_modules/graphql-ws").exists() {
        tests::skip_or_fail("npm graphql-ws", "run scripts/install-test-tools.sh");
        return;
    }
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg(&ws)
        .arg("1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));
    // A draft is nobody's business but its editors': an anonymous subscriber hears of it only
    // when it is published, as of a new offer.
    let created =
        s.server.graphql_as(&s.editor, CREATE, json!({ "input": event("Annoncée") })).await["data"]["createOffer"]
            .clone();
    let id = created["id"].clone();
    let published = s.server.graphql_as(&s.editor, PUBLISH, json!({ "id": id, "v": created["version"] })).await;
    assert!(published.get("errors").is_none(), "{published}");
    let event = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event["data"]["offerChanged"]["id"], id);
    assert_eq!(event["data"]["offerChanged"]["action"], "CREATED");
    assert_eq!(event["data"]["offerChanged"]["version"], 2, "the first event is the publication: {event}");
    let _ = child.wait().await;
    let _ = run_checker; // the harness helper is used by other suites
}

#[tokio::test]
async fn a_write_on_one_instance_is_seen_on_the_other_within_a_second() {
    let Some(pg) = PgDatabase::create().await else { return };
    let Some(redis) = redis_or_skip().await else { return };
    let opts = Options {
        database_url: Some(pg.url.clone()),
        // The poll is slow on purpose: the announcement through Redis must do the work.
        env: vec![("REDIS_URL".into(), redis), ("CATALOG_POLL_SECONDS".into(), "30".into())],
        ..Default::default()
    };
    let a = TestServer::start_with(opts.clone()).await;
    let b = TestServer::start_with(opts).await;
    let editor = create_key(&pg.url, "editor", "editor", None);
    tokio::time::sleep(Duration::from_millis(1000)).await; // both subscribed to Redis
    let q = r#"{ offer(slug: "musee-municipal") { id version name } }"#;
    let o = a.data(q, json!({})).await["offer"].clone();
    let body = a
        .graphql_as(
            &editor,
            UPDATE,
            json!({ "id": o["id"], "v": o["version"], "input": { "name": { "fr": "Musée municipal d'Escaudain" } } }),
        )
        .await;
    assert!(body["data"]["updateOffer"].is_object(), "{body}");
    let start = std::time::Instant::now();
    loop {
        let seen = b.data(q, json!({})).await["offer"]["name"].clone();
        if seen == "Musée municipal d'Escaudain" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(1), "instance B still shows {seen} after {:?}", start.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the concurrency check holds across instances: B refuses the stale version.
    let stale = b
        .graphql_as(
            &editor,
            UPDATE,
            json!({ "id": o["id"], "v": o["version"], "input": { "name": { "fr": "trop tard" } } }),
        )
        .await;
    assert_eq!(code(&stale), "CONFLICT", "{stale}");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let server = TestServer::start_with(Options {
        env: vec![("RATE_LIMIT_ANONYMOUS".into(), "5".into())],
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = server.get("/layers").await;
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned())));
    }
    assert!(statuses[..5].iter().all(|(s, _)| *s == 200), "{statuses:?}");
    let (status, retry) = &statuses[6];
    assert_eq!(*status, 429);
    assert!(retry.as_ref().unwrap().parse::<u64>().unwrap() <= 60);
    let body = server.graphql("{ totems { name } }", json!({})).await;
    assert_eq!(code(&body), "RATE_LIMITED");
    // Another client address has its own quota (127.0.0.2 is loopback too).
    let other = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    assert_eq!(other.get(format!("{}/layers", server.url)).send().await.unwrap().status(), 200);
    // Probes are never limited.
    assert_eq!(server.get("/healthz").await.status(), 200);
}

// Multi-threaded: the relay must run while the test waits on the key commands it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_keeps_reads_going_and_fails_writes_with_503_until_it_ends() {
    let Some(pg) = PgDatabase::create().await else { return };
    let mut proxy = TcpProxy::start(&pg.server_address()).await;
    let s = setup_on(&pg.url_via(proxy.addr)).await;
    let offer = s.server.data(r#"{ offer(slug: "musee-municipal") { id version } }"#, json!({})).await;
    let (id, version) = (offer["offer"]["id"].clone(), offer["offer"]["version"].as_i64().unwrap());
    let change = json!({ "id": id, "v": version, "input": { "labels": ["panne"] } });
    // The editor's key is checked once while the database answers.
    let body = s.server.graphql_as(&s.editor, "{ totems { name } }", json!({})).await;
    assert_eq!(body["data"]["totems"].as_array().map(Vec::len), Some(5), "{body}");

    proxy.cut().await;
    // Reads go on from the catalog, anonymous or with a key checked before.
    for token in [None, Some(&s.editor)] {
        let body = match token {
            None => s.server.graphql("{ totems { name } }", json!({})).await,
            Some(t) => s.server.graphql_as(t, "{ totems { name } }", json!({})).await,
        };
        assert_eq!(body["data"]["totems"].as_array().map(Vec::len), Some(5), "{body}");
    }
    assert_eq!(s.server.get("/tiles/offers/10/521/345.mvt").await.status(), 200);
    // A write fails cleanly, with a delay to retry after.
    let body = s.server.graphql_as(&s.editor, UPDATE, change.clone()).await;
    assert_eq!(code(&body), "UNAVAILABLE", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 5);
    // A key never checked cannot be vouched for without the database; REST answers 503 too.
    let body = s.server.graphql_as(&s.partner, "{ totems { name } }", json!({})).await;
    assert_eq!(code(&body), "UNAVAILABLE", "{body}");
    let r = s.server.get("/feeds/changes").await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));

    proxy.restore().await;
    // Once the database is back, the same write goes through, once.
    let mut body = Value::Null;
    for _ in 0..50 {
        body = s.server.graphql_as(&s.editor, UPDATE, change.clone()).await;
        if code(&body) != "UNAVAILABLE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(body["data"]["updateOffer"]["version"].as_i64(), Some(version + 1), "{body}");
    let body = s.server.graphql_as(&s.partner, "{ totems { name } }", json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn guessing_keys_is_throttled_like_anonymous_requests() {
    let server = TestServer::start_with(Options {
        env: vec![("RATE_LIMIT_ANONYMOUS".into(), "3".into())],
        ..Default::default()
    })
    .await;
    // An address of its own (127.0.0.4 is loopback too), so this minute's counter is this test's.
    let client = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 4])).build().unwrap();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = client
            .post(format!("{}/graphql", server.url))
            .bearer_auth(format!("phk_guess{i}"))
            .json(&json!({ "query": "{ totems { name } }" }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        statuses.push((status, code(&body).to_owned()));
    }
    let expected = [(401, "UNAUTHENTICATED"); 3].into_iter().chain([(429, "RATE_LIMITED"); 2]);
    assert_eq!(statuses, expected.map(|(s, c)| (s, c.to_owned())).collect::<Vec<_>>());
}

#[tokio::test]
async fn keys_are_listed_without_tokens_and_revocation_takes_effect() {
    let (s, _db) = setup().await;
    let out = std::process::Command::new(tests::server_binary())
        .env("DATABASE_URL", &s.url)
        .env("RUST_LOG", "warn")
        .args(["keys", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.contains("office-editor\teditor"), "{list}");
    assert!(!list.contains(&s.editor), "tokens are never listed");
    let out = std::process::Command::new(tests::server_binary())
        .env("DATABASE_URL", &s.url)
        .env("RUST_LOG", "warn")
        .args(["keys", "revoke", "office-editor"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let body = s.server.graphql_as(&s.editor, "{ totems { name } }", json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn rate_limits_are_shared_by_instances_through_redis() {
    let Some(redis) = redis_or_skip().await else { return };
    // A limit of 6 per minute over two instances: the 7th request, whichever instance takes it, waits.
    let env = vec![("REDIS_URL".into(), redis), ("RATE_LIMIT_ANONYMOUS".into(), "6".into())];
    let a = TestServer::start_with(Options { env: env.clone(), ..Default::default() }).await;
    let b = TestServer::start_with(Options { env, ..Default::default() }).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // both connected to Redis
    // Another client address than the other tests', so this minute's counter is this test's own.
    let client = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 3])).build().unwrap();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let server = if i % 2 == 0 { &a } else { &b };
        statuses.push(client.get(format!("{}/layers", server.url)).send().await.unwrap().status().as_u16());
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 2, "the shared counter limits across instances: {statuses:?}");
}
