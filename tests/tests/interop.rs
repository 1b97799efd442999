//! Interoperability: the DATAtourisme importer on the six real objects, the partner feeds
//! (GeoJSON, JSON-LD expanded by PyLD, iCalendar parsed by the icalendar package) and OGC API -
//! Features read by OWSLib.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tests::{Options, SqliteDatabase, TestServer, run_checker};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datatourisme")
}

fn import(db: &str, paths: &[&Path]) -> String {
    tests::import_datatourisme(db, paths, &[])
}

async fn imported() -> (TestServer, SqliteDatabase) {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_POLL_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let summary = import(&db.url, &[&fixtures()]);
    assert!(summary.starts_with("created 6, updated 0, unchanged 0, rejected 0"), "{summary}");
    // The running server learns of the import by polling the catalog version.
    for _ in 0..50 {
        if server.data("{ offers(filter: { text: \"MAZETTE\" }) { totalCount } }", json!({})).await["offers"]["totalCount"]
            == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, db)
}

#[tokio::test]
async fn the_six_objects_import_once_and_are_queryable() {
    let (server, db) = imported().await;
    let again = import(&db.url, &[&fixtures()]);
    assert!(again.starts_with("created 0, updated 0, unchanged 6, rejected 0"), "{again}");
    // Through the one write path: each import is a revision that says so, and importing again
    // changed nothing, not even the catalog version.
    {
        use entities::prelude::*;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let conn = db.connect().await;
        let ids: Vec<String> = Offer::find()
            .filter(entities::offer::Column::Source.eq("datatourisme"))
            .all(&conn)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        let revisions =
            Revision::find().filter(entities::revision::Column::OfferId.is_in(ids.clone())).all(&conn).await.unwrap();
        assert_eq!(revisions.len(), 6, "one revision per object");
        assert!(
            revisions
                .iter()
                .all(|r| r.action == entities::vocab::RevisionAction::Import && r.actor == "import:datatourisme")
        );
        let versions = CatalogChange::find().count(&conn).await.unwrap();
        let again = import(&db.url, &[&fixtures()]);
        assert!(again.starts_with("created 0, updated 0, unchanged 6"), "{again}");
        assert_eq!(CatalogChange::find().count(&conn).await.unwrap(), versions, "nothing written, no version taken");
    }

    let q = r#"query($t: String!) { offers(filter: { text: $t }) { edges { node {
        name kind location { lat lon } inTerritory commune { code } address { postalCode locality inseeCode }
        occurrences { start end } media { url licence credit } labels openingHours openingHoursText
        source { name id licence attribution updatedAt } contact { phones emails websites } } } } }"#;
    let server = &server;
    let get =
        |t: &'static str| async move { server.data(q, json!({ "t": t })).await["offers"]["edges"][0]["node"].clone() };

    let mazette = get("MAZETTE").await;
    assert_eq!(mazette["kind"], "ACCOMMODATION");
    assert_eq!(mazette["location"]["lat"], 45.802394);
    assert_eq!(mazette["location"]["lon"], 0.727444);
    assert_eq!(mazette["inTerritory"], false);
    assert_eq!(mazette["commune"], Value::Null);
    assert_eq!(mazette["address"]["inseeCode"], "87204", "an offer from elsewhere keeps its commune");
    let media = mazette["media"].as_array().unwrap();
    assert!(!media.is_empty());
    assert_eq!(media[0]["licence"], "By-NC-ND 4.0", "each picture keeps its own licence");
    assert_eq!(media[0]["credit"], "Gîtes de France® Haute-Vienne");
    assert_eq!(mazette["source"]["name"], "datatourisme");
    assert!(mazette["source"]["attribution"].as_str().unwrap().starts_with("DATAtourisme"));

    let expo = get("Émotions enfouies").await;
    assert_eq!(expo["kind"], "EVENT");
    assert_eq!(expo["occurrences"].as_array().unwrap().len(), 537, "every period is an occurrence");
    let jeanne = get("Chez Jeanne").await;
    assert_eq!(jeanne["kind"], "RESTAURANT");
    assert!(jeanne["contact"]["phones"].as_array().unwrap().contains(&json!("+33 2 14 14 13 60")));
    let escapade = get("Escapade Nature").await;
    assert_eq!(escapade["kind"], "SITE");
    assert!(escapade["labels"].as_array().unwrap().contains(&json!("qualite-tourisme")));
    // One rule per period and set of days: the flux's 53 specifications (one per day and slot).
    let hours = escapade["openingHours"].as_str().unwrap();
    assert!(hours.starts_with("2024 Jul 01-2024 Aug 31 Mo-Su 08:30-14:30,16:30-18:00, "), "{hours}");
    assert_eq!(hours.matches(", ").count() + 1, 7, "{hours}");
    assert_eq!(get("Bien-être et soins").await["kind"], "ACTIVITY");
    assert_eq!(get("maisons de vacances GHK").await["kind"], "ACCOMMODATION");

    // Offers from elsewhere stay off the territory's maps unless asked for.
    let layer = server.get("/layers/offers.geojson").await.text().await.unwrap();
    assert!(!layer.contains("MAZETTE"));
    let layer = server.get("/layers/offers.geojson?outside=true").await.text().await.unwrap();
    assert!(layer.contains("MAZETTE"));
}

#[tokio::test]
async fn a_newer_last_update_updates_and_a_bad_object_is_rejected_alone() {
    let db = SqliteDatabase::create();
    let _server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    import(&db.url, &[&fixtures()]);
    let dir = tempfile::tempdir().unwrap();
    let mut v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("30-0049c43b-5087-3c44-87ef-349d316fc2b8.json")).unwrap(),
    )
    .unwrap();
    v["lastUpdateDatatourisme"] = json!("2026-11-01T00:00:00Z");
    v["rdfs:label"]["fr"] = json!(["Chez Jeanne, crêperie"]);
    std::fs::write(dir.path().join("newer.json"), v.to_string()).unwrap();
    let mut broken = v.clone();
    broken["@id"] = json!("https://data.datatourisme.fr/30/not-placed");
    broken["isLocatedAt"] = json!([]);
    std::fs::write(dir.path().join("no-place.json"), broken.to_string()).unwrap();
    std::fs::write(dir.path().join("truncated.json"), "{\"@id\": \"https://data.datatourisme.fr/30/x\", ").unwrap();
    let summary = import(&db.url, &[dir.path()]);
    assert!(summary.starts_with("created 0, updated 1, unchanged 0, rejected 2"), "{summary}");
    assert!(
        summary.contains("no-place.json: no isLocatedAt") && summary.contains("truncated.json: not JSON"),
        "{summary}"
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let conn = db.connect().await;
    let n = entities::prelude::Offer::find()
        .filter(entities::offer::Column::Source.eq("datatourisme"))
        .count(&conn)
        .await
        .unwrap();
    assert_eq!(n, 6, "nothing partial was written");
    let jeanne = entities::prelude::Offer::find()
        .filter(entities::offer::Column::Name.contains("crêperie"))
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jeanne.version, 2);
}

#[tokio::test]
async fn a_batch_of_new_updated_and_same_named_objects_is_one_unit_with_free_slugs() {
    use entities::prelude::*;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = SqliteDatabase::create();
    let _server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    import(&db.url, &[&fixtures()]);
    let conn = db.connect().await;
    let before = entities::write::catalog_version(&conn).await.unwrap();
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("49-00037bcf-28e4-3322-b72f-377587204703.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut newer = original.clone();
    newer["lastUpdateDatatourisme"] = json!("2026-11-01T00:00:00Z");
    std::fs::write(dir.path().join("0-newer.json"), newer.to_string()).unwrap();
    // Two new objects named as the imported one: the same name in three places.
    for i in 1..=2 {
        let mut copy = original.clone();
        copy["@id"] = json!(format!("https://data.datatourisme.fr/49/same-name-{i}"));
        std::fs::write(dir.path().join(format!("{i}-copy.json")), copy.to_string()).unwrap();
    }
    let summary = import(&db.url, &[dir.path()]);
    assert!(summary.starts_with("created 2, updated 1, unchanged 0, rejected 0"), "{summary}");
    assert_eq!(entities::write::catalog_version(&conn).await.unwrap(), before + 1, "one unit of work");
    let offers = Offer::find().filter(entities::offer::Column::Source.eq("datatourisme")).all(&conn).await.unwrap();
    let same: Vec<_> = offers.iter().filter(|o| o.name == offers_named_as(&offers, &original)).collect();
    assert_eq!(same.len(), 3, "{offers:?}");
    let slugs: std::collections::BTreeSet<&str> = same.iter().map(|o| o.slug.as_str()).collect();
    assert_eq!(slugs.len(), 3, "every slug free: {slugs:?}");
    // The new ones have what hangs off the object (an exhibition's occurrences), as one written
    // alone would.
    let first = same.iter().find(|o| o.version == 2).unwrap();
    let occurrences = EventOccurrence::find()
        .filter(entities::event_occurrence::Column::OfferId.eq(first.id.as_str()))
        .count(&conn)
        .await
        .unwrap();
    assert!(occurrences > 100, "{occurrences}");
    for o in &same {
        let media = |id: &str| Media::find().filter(entities::media::Column::OfferId.eq(id)).count(&conn);
        let occurrences =
            |id: &str| EventOccurrence::find().filter(entities::event_occurrence::Column::OfferId.eq(id)).count(&conn);
        assert_eq!(media(&o.id).await.unwrap(), media(&first.id).await.unwrap());
        assert_eq!(occurrences(&o.id).await.unwrap(), occurrences(&first.id).await.unwrap());
        let revisions =
            Revision::find().filter(entities::revision::Column::OfferId.eq(o.id.as_str())).count(&conn).await.unwrap();
        assert_eq!(revisions, u64::try_from(o.version).unwrap(), "a revision per version of {}", o.slug);
    }
}

/// The name the offer imported from `object` has.
fn offers_named_as(offers: &[entities::offer::Model], object: &Value) -> entities::values::Texts {
    let uri = object["@id"].as_str().unwrap();
    let id = entities::domain::ids::offer_id("datatourisme", uri);
    offers.iter().find(|o| o.id == id).unwrap().name.clone()
}

/// An object found twice in what is imported is written as its newest version, whatever the
/// order: twice in one batch, or once in the export and once more in a later path.
async fn the_newest_version_of_an_object_found_twice_wins(url: &str, conn: &sea_orm::DatabaseConnection) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    import(url, &[&fixtures()]);
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("30-0049c43b-5087-3c44-87ef-349d316fc2b8.json")).unwrap(),
    )
    .unwrap();
    let version = |day: &str, name: &str| {
        let mut v = original.clone();
        v["lastUpdateDatatourisme"] = json!(format!("2026-11-{day}T00:00:00Z"));
        v["rdfs:label"]["fr"] = json!([name]);
        v.to_string()
    };
    let jeanne = || async {
        let o = entities::prelude::Offer::find()
            .filter(entities::offer::Column::SourceId.eq(original["@id"].as_str().unwrap()))
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        (o.version, o.name.get("fr").unwrap().to_owned())
    };
    // The newer first, then the older, in one batch.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), version("02", "Chez Jeanne, seconde")).unwrap();
    std::fs::write(dir.path().join("b.json"), version("01", "Chez Jeanne, première")).unwrap();
    let summary = import(url, &[dir.path()]);
    assert_eq!(
        summary.lines().next().unwrap(),
        "created 0, updated 1, unchanged 1, rejected 0 (known by their bytes: 0)"
    );
    assert_eq!(jeanne().await, (2, "Chez Jeanne, seconde".to_owned()));
    // The older first, then the newer, in one batch.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), version("03", "Chez Jeanne, troisième")).unwrap();
    std::fs::write(dir.path().join("b.json"), version("04", "Chez Jeanne, quatrième")).unwrap();
    let summary = import(url, &[dir.path()]);
    assert_eq!(
        summary.lines().next().unwrap(),
        "created 0, updated 1, unchanged 1, rejected 0 (known by their bytes: 0)"
    );
    assert_eq!(jeanne().await, (3, "Chez Jeanne, quatrième".to_owned()));
    // Once in an export of more than a batch, once more in a later path: the later batch finds
    // what the earlier one wrote.
    let export = tempfile::tempdir().unwrap();
    std::fs::write(export.path().join("0.json"), version("05", "Chez Jeanne, cinquième")).unwrap();
    let mut filler = original.clone();
    for i in 0..seed::datatourisme::BATCH {
        filler["@id"] = json!(format!("https://data.datatourisme.fr/30/filler-{i}"));
        std::fs::write(export.path().join(format!("{}.json", i + 1)), filler.to_string()).unwrap();
    }
    let later = tempfile::tempdir().unwrap();
    std::fs::write(later.path().join("z.json"), version("06", "Chez Jeanne, sixième")).unwrap();
    let summary = import(url, &[export.path(), later.path()]);
    // Written in their order, both update; on PostgreSQL the later batch may also be committed
    // first, and then the older version finds the newer one there and is left unchanged.
    let created = seed::datatourisme::BATCH;
    let (updated, version) = if summary.contains("updated 2") { (2, 5) } else { (1, 4) };
    let expected = format!(
        "created {created}, updated {updated}, unchanged {}, rejected 0 (known by their bytes: 0)",
        2 - updated
    );
    assert_eq!(summary.lines().next().unwrap(), expected);
    assert_eq!(jeanne().await, (version, "Chez Jeanne, sixième".to_owned()));
}

#[tokio::test]
async fn the_newest_version_of_an_object_found_twice_wins_on_sqlite() {
    let db = SqliteDatabase::create();
    the_newest_version_of_an_object_found_twice_wins(&db.url, &db.connect().await).await;
}

/// On PostgreSQL two batches are written at once: the later one waits for the earlier one's
/// rows, finds them moved on and is written object by object.
#[tokio::test]
async fn the_newest_version_of_an_object_found_twice_wins_on_postgres() {
    let Some(pg) = tests::PgDatabase::create().await else { return };
    let conn = pg.connect().await;
    the_newest_version_of_an_object_found_twice_wins(&pg.url, &conn).await;
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_zip_of_a_flux_export_imports() {
    let db = SqliteDatabase::create();
    let _server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("flux.zip");
    let status = Command::new("python3")
        .args(["-c", "import sys, zipfile, glob, os\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\nfor f in sorted(glob.glob(os.path.join(sys.argv[2], '*.json'))): z.write(f, 'objects/' + os.path.basename(f))\nz.writestr('index.json', '[]')\nz.close()"])
        .arg(&zip)
        .arg(fixtures())
        .status()
        .unwrap();
    assert!(status.success());
    let summary = import(&db.url, &[&zip]);
    assert!(summary.starts_with("created 6, updated 0, unchanged 0, rejected 0"), "{summary}");
}

#[tokio::test]
async fn feeds_are_valid_incremental_and_conditional() {
    let (server, _db) = imported().await;
    let dir = tempfile::tempdir().unwrap();

    // GeoJSON.
    let res = server.get("/feeds/offers.geojson").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/geo+json");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["numberMatched"], 79);
    let file = dir.path().join("feed.geojson");
    std::fs::write(&file, &text).unwrap();
    if let Some(r) = run_checker("check_geojson.py", &[file.to_str().unwrap()]) {
        let r = &r[file.to_str().unwrap()];
        assert_eq!(r["structure"], json!({}), "{r}");
        assert_eq!(r["invalid"], json!({}), "{r}");
    }
    let not_modified = server
        .client
        .get(format!("{}/feeds/offers.geojson", server.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    let not_modified = server
        .client
        .get(format!("{}/feeds/offers.geojson", server.url))
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    // Paging with a next link, filters, and `since`.
    let page = server.get("/feeds/offers.geojson?limit=10&theme=decouverte").await;
    let next = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(next.contains("offset=10") && next.contains("theme=decouverte") && next.contains("rel=\"next\""), "{next}");
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["numberReturned"], 10);
    let since: Value = server.get("/feeds/offers.geojson?since=2099-01-01T00:00:00Z").await.json().await.unwrap();
    assert_eq!(since["numberMatched"], 0);
    assert_eq!(server.get("/feeds/offers.geojson?since=yesterday").await.status(), 400);

    // JSON-LD, expanded by a JSON-LD processor.
    let text = server.get("/feeds/offers.jsonld").await.text().await.unwrap();
    let file = dir.path().join("feed.jsonld");
    std::fs::write(&file, &text).unwrap();
    if let Some(r) = run_checker("jsonld_expand.py", &[file.to_str().unwrap()]) {
        assert_eq!(r["count"], 79);
        let types: Vec<String> = r["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|n| n["types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
            .collect();
        for t in ["TouristAttraction", "LodgingBusiness", "FoodEstablishment", "Event", "TouristTrip"] {
            assert!(types.contains(&format!("https://schema.org/{t}")), "{t} missing");
        }
        let mazette = r["nodes"].as_array().unwrap().iter().find(|n| n["names"]["fr"] == "MAZETTE").unwrap();
        assert_eq!(mazette["has_geo"], true);
        assert_eq!(mazette["images"][0], "By-NC-ND 4.0");
    }

    // iCalendar, parsed by a real parser.
    let res = server.get("/feeds/events.ics?from=2025-01-01T00:00:00Z&to=2025-12-31T23:59:59Z").await;
    assert_eq!(res.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = res.text().await.unwrap();
    let file = dir.path().join("events.ics");
    std::fs::write(&file, &text).unwrap();
    if let Some(r) = run_checker("ics_check.py", &[file.to_str().unwrap()]) {
        assert_eq!(r["version"], "2.0");
        let events = r["events"].as_array().unwrap();
        assert!(!events.is_empty());
        let uids: std::collections::HashSet<&str> = events.iter().map(|e| e["uid"].as_str().unwrap()).collect();
        assert_eq!(uids.len(), events.len(), "stable, unique UIDs");
        for e in events {
            assert!(e["start"].as_str().unwrap().starts_with("2025") || e["end"].as_str().unwrap().starts_with("2025"));
            assert!(e["start"].as_str().unwrap().ends_with("+00:00"), "times are UTC: {e}");
            assert!(
                e["dtstamp"].is_string() && e["geo"].is_array() && e["url"].is_string() && e["location"].is_string(),
                "{e}"
            );
        }
        // 5 March 2025, a whole day in Saumur: from midnight Paris time (23:00 UTC the day before).
        assert!(events.iter().any(|e| e["start"] == "2025-03-04T23:00:00+00:00"), "Paris days");
    }
}

#[tokio::test]
async fn ogc_api_features_reads_with_owslib() {
    let server = TestServer::start().await;
    let landing: Value = server.get("/ogc").await.json().await.unwrap();
    assert!(landing["links"].as_array().unwrap().iter().any(|l| l["rel"] == "service-desc"));
    let api = server.get("/ogc/api").await;
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/vnd.oai.openapi+json"));
    let api: Value = api.json().await.unwrap();
    assert_eq!(api["openapi"], "3.0.3");

    let url = format!("{}/ogc", server.url);
    let Some(r) = run_checker("ogc_client.py", &[&url, "offers", "3.40,50.43,3.46,50.47"]) else { return };
    assert!(
        r["conformsTo"]
            .as_array()
            .unwrap()
            .contains(&json!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"))
    );
    assert_eq!(r["collections"], json!(["offers", "routes", "footprints", "communes"]));
    let features = r["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f["name"] == "musée de la Tour abbatiale"), "{r}");
    for f in features {
        let c = f["coordinates"].as_array().unwrap();
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((3.40..=3.46).contains(&lon) && (50.43..=50.47).contains(&lat));
    }
    assert_eq!(r["numberMatched"], r["numberReturned"]);

    // Paging with next links, one item, and bad requests.
    let page: Value = server.get("/ogc/collections/footprints/items?limit=5").await.json().await.unwrap();
    assert_eq!(page["numberReturned"], 5);
    let next = page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next").unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(next.contains("offset=5"));
    let id = page["features"][0]["id"].as_str().unwrap();
    let one = server.get(&format!("/ogc/collections/footprints/items/{id}")).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.headers()["content-type"], "application/geo+json");
    let commune: Value = server.get("/ogc/collections/communes/items/59632").await.json().await.unwrap();
    assert_eq!(commune["properties"]["name"], "Wallers");
    assert_eq!(server.get("/ogc/collections/footprints/items/nope").await.status(), 404);
    assert_eq!(server.get("/ogc/collections/castles/items").await.status(), 404);
    assert_eq!(server.get("/ogc/collections/offers/items?limit=0").await.status(), 400);
    assert_eq!(server.get("/ogc/collections/offers/items?color=red").await.status(), 400);
    let filtered: Value = server.get("/ogc/collections/offers/items?kind=route&limit=100").await.json().await.unwrap();
    assert_eq!(filtered["numberMatched"], 5);
}

/// The occurrence rows of a database, in order.
async fn occurrence_rows(url: &str) -> Vec<(String, String, String)> {
    use sea_orm::{EntityTrait, QueryOrder};
    let conn = sea_orm::Database::connect(url).await.unwrap();
    let rows = entities::prelude::EventOccurrence::find()
        .order_by_asc(entities::event_occurrence::Column::OfferId)
        .order_by_asc(entities::event_occurrence::Column::StartsAt)
        .all(&conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows.into_iter().map(|o| (o.offer_id, o.starts_at.to_rfc3339(), o.ends_at.to_rfc3339())).collect()
}

#[tokio::test]
async fn occurrences_are_written_the_same_on_postgres_as_on_sqlite() {
    // PostgreSQL takes them in one statement of three arrays, SQLite in statements of rows: an
    // import, then an update that replaces an event's occurrences.
    let Some(pg) = tests::PgDatabase::create().await else { return };
    let sqlite = SqliteDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("49-00037bcf-28e4-3322-b72f-377587204703.json")).unwrap(),
    )
    .unwrap();
    event["lastUpdateDatatourisme"] = json!("2030-01-01T00:00:00Z");
    let periods = event["takesPlaceAt"].as_array().unwrap().len();
    event["takesPlaceAt"] = json!(event["takesPlaceAt"].as_array().unwrap()[..12]);
    std::fs::write(dir.path().join("shorter.json"), event.to_string()).unwrap();
    let mut after_import = Vec::new();
    let mut after_update = Vec::new();
    for url in [&pg.url, &sqlite.url] {
        let mut seed = Command::new(tests::server_binary());
        seed.env("DATABASE_URL", url).env("RUST_LOG", "warn").arg("seed");
        assert!(seed.output().unwrap().status.success());
        let summary = import(url, &[&fixtures()]);
        assert!(summary.starts_with("created 6, updated 0"), "{summary}");
        after_import.push(occurrence_rows(url).await);
        let summary = import(url, &[dir.path()]);
        assert!(summary.starts_with("created 0, updated 1"), "{summary}");
        after_update.push(occurrence_rows(url).await);
    }
    assert_eq!(after_import[0].len(), periods, "every period of the event is a row");
    assert_eq!(after_import[0], after_import[1]);
    assert_eq!(after_update[0], after_update[1]);
    let kept = after_update[0].iter().filter(|row| after_import[0].contains(row)).count();
    assert_eq!(after_update[0].len() - kept, 0, "the update added no occurrence of its own");
    assert!((1..=12).contains(&kept), "{kept} occurrences after the update");
    assert_eq!(after_import[0].len() - after_update[0].len(), periods - kept);
}

#[tokio::test]
async fn batches_written_side_by_side_on_postgres_keep_slugs_apart_and_refuse_alone() {
    // On PostgreSQL two batches of an import are written at once. 1,600 objects of one name make
    // four batches: the first two would both take the name's slug if nothing kept them apart.
    // The database refuses one object of the third (a trigger the test adds), found while the
    // fourth is being written: it must cost only itself.
    use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
    let Some(pg) = tests::PgDatabase::create().await else { return };
    let mut seed = Command::new(tests::server_binary());
    seed.env("DATABASE_URL", &pg.url).env("RUST_LOG", "warn").arg("seed");
    assert!(seed.output().unwrap().status.success());
    let conn = pg.connect().await;
    conn.execute_unprepared(
        "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.source_id LIKE '%/refused' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER refuse_one BEFORE INSERT ON offers FOR EACH ROW EXECUTE FUNCTION refuse_one()",
    )
    .await
    .unwrap();
    let full: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("30-0049c43b-5087-3c44-87ef-349d316fc2b8.json")).unwrap(),
    )
    .unwrap();
    // The members an offer needs, not the 100 kB of the rest.
    let small = json!({
        "@type": full["@type"],
        "rdfs:label": {"fr": ["Même nom"]},
        "isLocatedAt": [{"schema:geo": full["isLocatedAt"][0]["schema:geo"], "schema:address": full["isLocatedAt"][0]["schema:address"]}],
        "lastUpdateDatatourisme": "2026-11-01T00:00:00Z",
    });
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1600 {
        let mut o = small.clone();
        let id = if i == 1200 { "refused".to_owned() } else { format!("same-name-{i}") };
        o["@id"] = json!(format!("https://data.datatourisme.fr/30/{id}"));
        std::fs::write(dir.path().join(format!("{i:04}.json")), o.to_string()).unwrap();
    }
    let before = entities::write::catalog_version(&conn).await.unwrap();
    let summary = import(&pg.url, &[dir.path()]);
    assert!(summary.starts_with("created 1599, updated 0, unchanged 0, rejected 1"), "{summary}");
    assert!(summary.contains("1200.json") && summary.contains("refused by the test"), "{summary}");
    let offers = entities::prelude::Offer::find()
        .filter(sea_orm::ColumnTrait::eq(&entities::offer::Column::Source, "datatourisme"))
        .all(&conn)
        .await
        .unwrap();
    assert_eq!(offers.len(), 1599);
    let slugs: std::collections::HashSet<&str> = offers.iter().map(|o| o.slug.as_str()).collect();
    assert_eq!(slugs.len(), 1599, "every slug free");
    assert!(slugs.contains("meme-nom"));
    // Batches one, two and four in a unit each, the third's 499 good objects one unit apiece.
    assert_eq!(entities::write::catalog_version(&conn).await.unwrap(), before + 3 + 499);
    conn.close().await.unwrap();
}

/// The offer imported from the fixture `file`, found by its DATAtourisme URI.
async fn offer_of(conn: &sea_orm::DatabaseConnection, file: &str) -> entities::offer::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap();
    let uri = v["@id"].as_str().unwrap();
    entities::prelude::Offer::find()
        .filter(entities::offer::Column::SourceId.eq(uri))
        .one(conn)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no offer from {file}"))
}

/// Imports the six objects, then again after changes to the bytes and to the offers: an object
/// is known by its bytes (not parsed) exactly when the import would have found it unchanged.
async fn a_re_import_knows_the_bytes_it_read(url: &str, conn: &sea_orm::DatabaseConnection) {
    use entities::prelude::*;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let summary = import(url, &[&fixtures()]);
    assert!(
        summary.starts_with("created 6, updated 0, unchanged 0, rejected 0 (known by their bytes: 0)"),
        "{summary}"
    );
    assert_eq!(ImportDigest::find().count(conn).await.unwrap(), 6, "one digest per offer");
    let versions = CatalogChange::find().count(conn).await.unwrap();
    let again = import(url, &[&fixtures()]);
    assert_eq!(again.trim_end(), "created 0, updated 0, unchanged 6, rejected 0 (known by their bytes: 6)");
    assert_eq!(CatalogChange::find().count(conn).await.unwrap(), versions, "nothing written");

    // The same object in other bytes (compact, not pretty-printed) is read, found unchanged, and
    // known by those bytes from then on.
    let jeanne = "30-0049c43b-5087-3c44-87ef-349d316fc2b8.json";
    let dir = tempfile::tempdir().unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join(jeanne)).unwrap()).unwrap();
    std::fs::write(dir.path().join(jeanne), v.to_string()).unwrap();
    let compact = import(url, &[dir.path()]);
    assert_eq!(compact.trim_end(), "created 0, updated 0, unchanged 1, rejected 0 (known by their bytes: 0)");
    let compact = import(url, &[dir.path()]);
    assert_eq!(compact.trim_end(), "created 0, updated 0, unchanged 1, rejected 0 (known by their bytes: 1)");

    // An offer set back to an older version is updated again, and an object whose offer has gone
    // is created again: neither is taken for known.
    let set_back = offer_of(conn, "23-005424b9-231a-3735-b357-b13d2e2f661a.json").await;
    let older = set_back.source_updated_at.unwrap() - chrono::Duration::days(1);
    Offer::update_many()
        .col_expr(entities::offer::Column::SourceUpdatedAt, Expr::value(older))
        .filter(entities::offer::Column::Id.eq(set_back.id.as_str()))
        .exec(conn)
        .await
        .unwrap();
    // Deleted in the database (what hangs off it goes with it), not through the API, which only
    // archives.
    let gone = offer_of(conn, "49-00037bcf-28e4-3322-b72f-377587204703.json").await;
    Offer::delete_by_id(gone.id.clone()).exec(conn).await.unwrap();
    let after = import(url, &[&fixtures()]);
    // Known: three (the compact bytes replaced the pretty-printed ones of the fourth, read again).
    assert_eq!(after.trim_end(), "created 1, updated 1, unchanged 4, rejected 0 (known by their bytes: 3)");
    let updated = offer_of(conn, "23-005424b9-231a-3735-b357-b13d2e2f661a.json").await;
    assert_eq!(updated.version, set_back.version + 1);
    assert!(updated.source_updated_at.unwrap() > older);
    let again = import(url, &[&fixtures()]);
    assert_eq!(again.trim_end(), "created 0, updated 0, unchanged 6, rejected 0 (known by their bytes: 6)");
}

#[tokio::test]
async fn a_re_import_knows_the_bytes_it_read_on_sqlite() {
    let db = SqliteDatabase::create();
    let conn = db.connect().await;
    a_re_import_knows_the_bytes_it_read(&db.url, &conn).await;
}

#[tokio::test]
async fn a_re_import_knows_the_bytes_it_read_on_postgres() {
    let Some(pg) = tests::PgDatabase::create().await else { return };
    let conn = pg.connect().await;
    a_re_import_knows_the_bytes_it_read(&pg.url, &conn).await;
    conn.close().await.unwrap();
}
