//! The one write path under real concurrency: two server processes on one PostgreSQL database
//! (nothing shared between them but the database and Redis), writers on both at once. Catalog
//! versions are handed out once each in commit order, every acknowledged write is stored with its
//! revision, the change feed yields every offer once, both instances end on the same catalog;
//! and a stale writer loses even when the winner is another process.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{Options, PgDatabase, TestServer, create_key, redis_or_skip};

const CREATE: &str = "mutation($input: OfferInput!) { createOffer(input: $input) { id version } }";
const PUBLISH: &str = "mutation($id: ID!, $v: Int!) { publishOffer(id: $id, expectedVersion: $v) { id version } }";
const UPDATE: &str = "mutation($id: ID!, $v: Int!, $input: OfferInput!) { updateOffer(id: $id, expectedVersion: $v, input: $input) { id version } }";

fn site(name: &str, k: u32) -> Value {
    let lat = 50.36 + f64::from(k % 400) * 0.0001;
    json!({ "kind": "SITE", "name": { "fr": name }, "location": { "lat": lat, "lon": 3.42 }, "themes": ["nature"] })
}

async fn two_servers(pg: &PgDatabase, extra: &[(&str, &str)]) -> (TestServer, TestServer) {
    let mut env: Vec<(String, String)> =
        vec![("CATALOG_POLL_SECONDS".into(), "1".into()), ("RATE_LIMIT_STAFF".into(), "0".into())];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let opts = Options { database_url: Some(pg.url.clone()), env, ..Default::default() };
    let a = TestServer::start_with(opts.clone()).await;
    let b = TestServer::start_with(opts).await;
    (a, b)
}

/// Every write acknowledged to a writer: the offer and its version.
type Acked = Vec<(String, i32)>;

async fn writer(server: String, token: String, who: u32, until: Instant) -> Acked {
    let client = reqwest::Client::new();
    let post = |q: &'static str, vars: Value| {
        client
            .post(format!("{server}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": q, "variables": vars }))
            .send()
    };
    let mut acked = Vec::new();
    let mut k = 0;
    while Instant::now() < until {
        k += 1;
        let body: Value =
            post(CREATE, json!({ "input": site(&format!("Écrit {who}-{k}"), k) })).await.unwrap().json().await.unwrap();
        let Some(id) = body["data"]["createOffer"]["id"].as_str().map(str::to_owned) else {
            panic!("create refused: {body}");
        };
        acked.push((id.clone(), 1));
        let body: Value = post(PUBLISH, json!({ "id": id, "v": 1 })).await.unwrap().json().await.unwrap();
        assert_eq!(body["data"]["publishOffer"]["version"], 2, "{body}");
        acked.push((id.clone(), 2));
        let body: Value =
            post(UPDATE, json!({ "id": id, "v": 2, "input": { "name": { "fr": format!("Réécrit {who}-{k}") } } }))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(body["data"]["updateOffer"]["version"], 3, "{body}");
        acked.push((id, 3));
    }
    acked
}

#[tokio::test]
async fn two_processes_hand_out_each_catalog_version_once_and_converge() {
    let Some(pg) = PgDatabase::create().await else { return };
    let Some(redis) = redis_or_skip().await else { return };
    let (a, b) = two_servers(&pg, &[("REDIS_URL", redis.as_str())]).await;
    let token = create_key(&pg.url, "writers", "editor", None);
    let until = Instant::now() + Duration::from_secs(20);
    let mut tasks = Vec::new();
    for who in 0..16 {
        let server = if who % 2 == 0 { a.url.clone() } else { b.url.clone() };
        tasks.push(tokio::spawn(writer(server, token.clone(), who, until)));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(acked.len() > 100, "only {} writes in 20 s", acked.len());
    eprintln!("{} writes acknowledged by two processes in 20 s", acked.len());

    use entities::prelude::*;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let db = pg.connect().await;
    // Every version was handed out once, in a gapless run that ends at the state row's.
    let changes = CatalogChange::find().order_by_asc(entities::catalog_change::Column::Version).all(&db).await.unwrap();
    let versions: Vec<i64> = changes.iter().map(|c| c.version).collect();
    let state = entities::write::catalog_version(&db).await.unwrap();
    assert_eq!(versions.last().copied(), Some(state));
    assert!(versions.windows(2).all(|w| w[1] == w[0] + 1), "versions are not a gapless run");
    assert_eq!(
        versions.len(),
        acked.len() + 2,
        "one version per acknowledged write, and two for the default data (territory, register)"
    );
    // Every acknowledged write is stored with its revision, each in a version of its own.
    let revisions =
        Revision::find().filter(entities::revision::Column::Actor.eq("editor:writers")).all(&db).await.unwrap();
    let stored: HashMap<(String, i32), Option<i64>> =
        revisions.iter().map(|r| ((r.offer_id.clone(), r.version), r.catalog_version)).collect();
    for w in &acked {
        assert!(stored.contains_key(w), "acknowledged write {w:?} has no revision");
    }
    let own_versions: BTreeSet<i64> = revisions.iter().filter_map(|r| r.catalog_version).collect();
    assert_eq!(own_versions.len(), revisions.len(), "two writes shared a catalog version");
    // Each offer's row is at its last acknowledged version.
    for (id, _) in acked.iter().filter(|(_, v)| *v == 3) {
        let row = Offer::find_by_id(id.clone()).one(&db).await.unwrap().unwrap();
        assert_eq!(row.version, 3);
    }

    // The change feed from the start yields every offer once.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(c) => format!("/feeds/changes?limit=1000&after={c}"),
            None => "/feeds/changes?limit=1000".to_owned(),
        };
        let page: Value = a.get(&path).await.json().await.unwrap();
        for n in page["nodes"].as_array().unwrap() {
            *seen.entry(n["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        after = page["endCursor"].as_str().map(str::to_owned);
        if page["hasNextPage"] != true {
            break;
        }
    }
    let written: BTreeSet<&String> = acked.iter().map(|(id, _)| id).collect();
    for id in &written {
        assert_eq!(seen.get(*id), Some(&1), "{id} in the change feed");
    }
    assert!(seen.values().all(|n| *n == 1));

    // Both instances end on the same catalog, record for record.
    let mut digests = Vec::new();
    for server in [&a, &b] {
        let mut ready = Value::Null;
        for _ in 0..50 {
            ready = server.get("/readyz?digest=true").await.json().await.unwrap();
            if ready["catalog"]["version"] == json!(state) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(ready["catalog"]["version"], json!(state), "{ready}");
        digests.push(ready["catalog"]["digest"].clone());
    }
    assert_eq!(digests[0], digests[1]);
    let rebuilt = tests::catalog_digest(&pg.url).await;
    assert_eq!(digests[0], json!(rebuilt), "the instances' catalogs equal one rebuilt from the database");
}

#[tokio::test]
async fn a_stale_writer_loses_even_when_the_winner_is_another_process() {
    let Some(pg) = PgDatabase::create().await else { return };
    let (a, b) = two_servers(&pg, &[]).await;
    let token = create_key(&pg.url, "desk", "editor", None);
    let created = a.graphql_as(&token, CREATE, json!({ "input": site("Disputé", 1) })).await;
    let id = created["data"]["createOffer"]["id"].clone();
    // Sequentially: the second writer read version 1 too, and is told the version is now 2.
    let first = a.graphql_as(&token, UPDATE, json!({ "id": id, "v": 1, "input": { "name": { "fr": "Par A" } } })).await;
    assert_eq!(first["data"]["updateOffer"]["version"], 2, "{first}");
    let stale = b.graphql_as(&token, UPDATE, json!({ "id": id, "v": 1, "input": { "name": { "fr": "Par B" } } })).await;
    assert_eq!(stale["errors"][0]["extensions"]["code"], "CONFLICT", "{stale}");
    assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2, "{stale}");
    // At once, round after round: exactly one of the two processes wins each round.
    for (round, version) in (0..10).zip(2..) {
        let va = json!({ "id": id, "v": version, "input": { "name": { "fr": format!("A {round}") } } });
        let vb = json!({ "id": id, "v": version, "input": { "name": { "fr": format!("B {round}") } } });
        let (ra, rb) = tokio::join!(a.graphql_as(&token, UPDATE, va), b.graphql_as(&token, UPDATE, vb));
        let wins = [&ra, &rb].iter().filter(|r| r["data"]["updateOffer"]["version"] == version + 1).count();
        let conflicts = [&ra, &rb].iter().filter(|r| r["errors"][0]["extensions"]["code"] == "CONFLICT").count();
        assert_eq!((wins, conflicts), (1, 1), "round {round}: {ra} / {rb}");
    }
    use entities::prelude::*;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = pg.connect().await;
    let n =
        Revision::find().filter(entities::revision::Column::OfferId.eq(id.as_str().unwrap())).count(&db).await.unwrap();
    assert_eq!(n, 12, "a creation and eleven winning updates: no loser left a revision");
}
