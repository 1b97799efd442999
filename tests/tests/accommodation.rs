//! Classified accommodation from Atout France's register (the whole national file, as published)
//! and the totems where they are: the six establishments of the default data, typed
//! classifications and capacities in GraphQL and the feeds, filters and stats, re-imports that
//! keep an editor's work, newer and older registers, an establishment leaving the register.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use geo::{Contains, Distance, Haversine, Point};
use serde_json::{Value, json};
use tests::{Options, SqliteDatabase, TestServer, create_key};

fn register() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/atout-france/hebergements-classes.csv")
}

fn import(db: &str, paths: &[&Path]) -> String {
    let out = Command::new(tests::server_binary())
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .args(["import", "atout-france"])
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn start() -> (TestServer, SqliteDatabase) {
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_POLL_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    (server, db)
}

const CLASSIFIED: &str = r#"query($f: OfferFilter) { offers(filter: $f, first: 100) { totalCount nodes { id slug version name geoPrecision commune { code }
    location { lat lon } classification { typology stars label category classifiedOn extended } capacity { people rooms pitches units }
    source { name licence attribution } } } }"#;

async fn classified(server: &TestServer, filter: Value) -> Value {
    server.data(CLASSIFIED, json!({ "f": filter })).await["offers"].clone()
}

/// Waits until the server's catalog (it polls the database every second) shows `want`.
async fn eventually(server: &TestServer, filter: Value, want: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..50 {
        let page = classified(server, filter.clone()).await;
        if want(&page) {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    classified(server, filter).await
}

/// A newcomer's server has the territory's six classified establishments, 1,002 people of
/// capacity, each at its commune with `COMMUNE` precision, with its typed classification.
#[tokio::test]
async fn the_default_data_holds_the_six_classified_establishments() {
    let server = TestServer::start().await;
    let page = classified(&server, json!({ "kinds": ["ACCOMMODATION"] })).await;
    assert_eq!(page["totalCount"], 6, "{page}");
    let nodes = page["nodes"].as_array().unwrap();
    let people: i64 = nodes.iter().map(|n| n["capacity"]["people"].as_i64().unwrap()).sum();
    assert_eq!(people, 1002);
    for n in nodes {
        assert_eq!(n["geoPrecision"], "COMMUNE", "{n}");
        assert_eq!(n["source"]["name"], "atout-france");
        assert_eq!(n["source"]["attribution"], "Atout France — hébergements touristiques classés, Licence Ouverte 2.0");
        assert!(["HOTEL", "CAMPSITE"].contains(&n["classification"]["typology"].as_str().unwrap()), "{n}");
    }
    let poteries = nodes.iter().find(|n| n["name"] == "CAMPING DU DOMAINE DES POTERIES").unwrap();
    assert_eq!(
        poteries["classification"],
        json!({ "typology": "CAMPSITE", "stars": 3, "label": "3 étoiles", "category": "LEISURE", "classifiedOn": "2023-05-24", "extended": false })
    );
    assert_eq!(poteries["capacity"], json!({ "people": 300, "rooms": null, "pitches": 100, "units": null }));
    assert_eq!(poteries["commune"]["code"], "59238", "Flines-lès-Mortagne");

    // Filters by classification and capacity.
    let campsites = classified(&server, json!({ "classification": { "types": ["CAMPSITE"], "minStars": 3 } })).await;
    let mut names: Vec<&str> =
        campsites["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["CAMPING DU DOMAINE DES POTERIES", "CAMPING LE MONT DES BRUYÈRES"]);
    let big = classified(&server, json!({ "capacity": { "minPeople": 200 } })).await;
    assert_eq!(big["totalCount"], 2);
    let hotels4 =
        classified(&server, json!({ "classification": { "types": ["HOTEL"], "minStars": 4, "maxStars": 5 } })).await;
    assert_eq!(hotels4["nodes"][0]["name"], "HÔTEL DU PASINO SAINT-AMAND-LES-EAUX");
    assert_eq!(hotels4["totalCount"], 1);
    let bad = server.graphql(CLASSIFIED, json!({ "f": { "classification": { "minStars": 6 } } })).await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{bad}");

    // Stats for the observatory and the tourist tax (editors).
    let db = SqliteDatabase::create();
    let server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let editor = create_key(&db.url, "office", "editor", None);
    let q = "{ stats { capacityByType { key label offers classified people rooms pitches } capacityByCommune { key label offers people } } }";
    let stats = server.graphql_as(&editor, q, json!({})).await["data"]["stats"].clone();
    let by_type = |k: &str| stats["capacityByType"].as_array().unwrap().iter().find(|t| t["key"] == k).unwrap().clone();
    assert_eq!(by_type("campsite")["people"], 756);
    assert_eq!(by_type("campsite")["pitches"], 252);
    assert_eq!(by_type("hotel")["people"], 246);
    assert_eq!(by_type("hotel")["rooms"], 121);
    assert_eq!(by_type("hotel")["classified"], 3);
    let st_amand = stats["capacityByCommune"].as_array().unwrap().iter().find(|c| c["key"] == "59526").unwrap().clone();
    assert_eq!(
        (st_amand["label"].as_str(), st_amand["offers"].as_i64(), st_amand["people"].as_i64()),
        (Some("Saint-Amand-les-Eaux"), Some(3), Some(513))
    );
    assert_eq!(server.graphql(q, json!({})).await["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // The feeds carry the classification.
    let geojson: Value = server.get("/feeds/offers.geojson?kind=accommodation").await.json().await.unwrap();
    let f = geojson["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["name"]["fr"] == "CAMPING LE PETIT CLOS")
        .unwrap()
        .clone();
    assert_eq!(f["properties"]["classification"]["stars"], 1);
    assert_eq!(f["properties"]["classification"]["typology"], "campsite");
    let jsonld: Value = server.get("/feeds/offers.jsonld?kind=accommodation").await.json().await.unwrap();
    let hotel = jsonld["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"][0]["@value"] == "HÔTEL DU PASINO SAINT-AMAND-LES-EAUX")
        .unwrap()
        .clone();
    assert_eq!(hotel["@type"], "LodgingBusiness");
    assert_eq!(hotel["starRating"]["ratingValue"], 4);
}

/// The whole national file: 21,311 rows read, the six of the territory kept (already there:
/// unchanged), the four with a territory postcode but another commune reported.
#[tokio::test]
async fn the_national_register_imports_the_territory_only() {
    let (_server, db) = start().await;
    let out = import(&db.url, &[&register()]);
    let summary = out.lines().next().unwrap();
    assert!(
        summary.ends_with(
            "read 21311, in territory 6, created 0, updated 0, unchanged 6, declassified 0, unmatched 4, rejected 0"
        ),
        "{out}"
    );
    let unmatched: Vec<&str> = out.lines().filter(|l| l.starts_with("unmatched ")).collect();
    assert_eq!(unmatched.len(), 4, "{out}");
    assert!(unmatched.iter().any(|l| l.contains("B&B HOTEL VALENCIENNES SUD (59121 PROUVY)")), "{out}");
    assert_eq!(unmatched.iter().filter(|l| l.contains("ROUVIGNIES")).count(), 3);
    // Again: nothing changes.
    let again = import(&db.url, &[&register()]);
    assert!(again.lines().next().unwrap().contains("created 0, updated 0, unchanged 6"), "{again}");
    // A file that is not the register is refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "a;b\n1;2\n").unwrap();
    let out = Command::new(tests::server_binary())
        .env("DATABASE_URL", &db.url)
        .args(["import", "atout-france"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing columns"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rewrites the register: `edit` gets each row's fields (by column name) and may change or drop it.
fn rewrite(to: &Path, edit: impl Fn(&mut Vec<String>) -> bool) {
    let text = std::fs::read_to_string(register()).unwrap();
    let mut lines = text.lines();
    let mut out = vec![lines.next().unwrap().to_owned()];
    for line in lines {
        let mut fields: Vec<String> = line.split(';').map(str::to_owned).collect();
        if edit(&mut fields) {
            out.push(fields.join(";"));
        }
    }
    std::fs::write(to, out.join("\n") + "\n").unwrap();
}

/// An editor places an establishment and renames it; a newer register upgrades another and drops
/// a third; then the older register comes again. The editor's work survives, the upgrade is
/// applied, the dropped one keeps its offer without classification and its revision says why, and
/// the older register changes nothing back.
#[tokio::test]
async fn re_imports_keep_editors_work_follow_newer_registers_and_ignore_older_ones() {
    let (server, db) = start().await;
    let editor = create_key(&db.url, "office", "editor", None);
    let page = classified(&server, json!({ "kinds": ["ACCOMMODATION"] })).await;
    let find = |page: &Value, name: &str| {
        page["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name || n["slug"] == name).cloned()
    };
    let clos = find(&page, "CAMPING LE PETIT CLOS").unwrap();
    let update = "mutation($id: ID!, $v: Int!, $input: OfferInput!) { updateOffer(id: $id, expectedVersion: $v, input: $input) { version geoPrecision } }";
    let moved = server
        .graphql_as(
            &editor,
            update,
            json!({ "id": clos["id"], "v": clos["version"], "input": {
                "name": { "fr": "Camping Le Petit Clos" }, "location": { "lat": 50.4894, "lon": 3.3490 }, "geoPrecision": "APPROXIMATE" } }),
        )
        .await;
    assert!(moved.get("errors").is_none(), "{moved}");

    let dir = tempfile::tempdir().unwrap();
    // The newer register: the Auberge du Bord des Eaux gets a fourth star, the Sure Hotel is gone.
    let newer = dir.path().join("newer.csv");
    rewrite(&newer, |f| {
        if f[5] == "HOTEL AUBERGE DU BORD DES EAUX" {
            f[0] = "15/05/2026".into();
            f[2] = "4 étoiles".into();
        }
        f[5] != "SURE HOTEL BY BEST WESTERN ST-AMAND-LES-EAUX"
    });
    let out = import(&db.url, &[&newer]);
    assert!(out.contains("in territory 5, created 0, updated 1, unchanged 4, declassified 1"), "{out}");
    let filter = json!({ "kinds": ["ACCOMMODATION"] });
    let page = eventually(&server, filter.clone(), |p| {
        find(p, "HOTEL AUBERGE DU BORD DES EAUX").is_some_and(|a| a["classification"]["stars"] == 4)
    })
    .await;
    let auberge = find(&page, "HOTEL AUBERGE DU BORD DES EAUX").unwrap();
    assert_eq!(auberge["classification"]["classifiedOn"], "2026-05-15");
    let clos = find(&page, "Camping Le Petit Clos").expect("the editor's name survives");
    assert_eq!(clos["geoPrecision"], "APPROXIMATE");
    assert_eq!(clos["location"], json!({ "lat": 50.4894, "lon": 3.3490 }), "the editor's position survives");
    let sure = find(&page, "SURE HOTEL BY BEST WESTERN ST-AMAND-LES-EAUX").expect("the offer stays");
    assert_eq!(sure["classification"], Value::Null, "{sure}");
    let q = "query($id: ID!) { offer(id: $id) { revisions { action actor note } } }";
    let revisions =
        server.graphql_as(&editor, q, json!({ "id": sure["id"] })).await["data"]["offer"]["revisions"].clone();
    let last = revisions.as_array().unwrap().first().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("IMPORT"), Some("import:atout-france")),
        "{revisions}"
    );
    assert!(last["note"].as_str().unwrap().contains("no longer in Atout France's register"), "{revisions}");

    // The older register (the national file of April) changes nothing back.
    let out = import(&db.url, &[&register()]);
    assert!(out.contains("created 0, updated 0, unchanged 6, declassified 0"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = classified(&server, filter).await;
    assert_eq!(find(&page, "HOTEL AUBERGE DU BORD DES EAUX").unwrap()["classification"]["stars"], 4);
    assert_eq!(find(&page, "SURE HOTEL BY BEST WESTERN ST-AMAND-LES-EAUX").unwrap()["classification"], Value::Null);
}

/// Each totem is in its commune by the polygons of `seed/data` (IGN, as in `../shared`), and
/// where its place is known within 500 m of it; the Trouée d'Arenberg is a 2.4 km route line.
#[tokio::test]
async fn every_totem_stands_in_its_commune_and_near_its_place() {
    let server = TestServer::start().await;
    let communes: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../seed/data/caph-communes.geojson"))
            .unwrap(),
    )
    .unwrap();
    let polygon = |insee: &str| -> geo::Geometry<f64> {
        let f = communes["features"].as_array().unwrap().iter().find(|f| f["properties"]["insee"] == insee).unwrap();
        let g: geojson::Geometry = serde_json::from_value(f["geometry"].clone()).unwrap();
        g.try_into().unwrap()
    };
    let q = "{ totems { slug kind geoPrecision location { lat lon } commune { code } route { lengthMeters linePrecision practices } } }";
    let totems = server.data(q, json!({})).await["totems"].clone();
    // (slug, commune, where it is when known)
    type Expected<'a> = (&'a str, &'a str, Option<(f64, f64)>);
    let expected: [Expected; 5] = [
        ("fosse-d-arenberg", "59632", Some((3.4258, 50.3844))),
        ("bassin-rond", "59092", Some((3.2905, 50.2515))),
        ("trouee-d-arenberg", "59632", Some((3.4125, 50.399))),
        ("parc-loisirs-et-nature-de-la-porte-du-hainaut", "59491", None),
        ("station-thermale-de-saint-amand-les-eaux", "59526", None),
    ];
    for (slug, insee, place) in expected {
        let t =
            totems.as_array().unwrap().iter().find(|t| t["slug"] == slug).unwrap_or_else(|| panic!("{slug}: {totems}"));
        assert_eq!(t["commune"]["code"], insee, "{t}");
        let p = Point::new(t["location"]["lon"].as_f64().unwrap(), t["location"]["lat"].as_f64().unwrap());
        assert!(polygon(insee).contains(&p), "{slug} is outside its commune");
        match place {
            Some(at) => {
                assert_ne!(t["geoPrecision"], "COMMUNE", "{t}");
                let d = Haversine.distance(p, Point::from(at));
                assert!(d < 500.0, "{slug} is {d:.0} m from its place");
            }
            None => assert_eq!(t["geoPrecision"], "COMMUNE", "{t}"),
        }
    }
    let trouee = totems.as_array().unwrap().iter().find(|t| t["slug"] == "trouee-d-arenberg").unwrap();
    assert_eq!(trouee["kind"], "ROUTE");
    assert_eq!(trouee["route"]["linePrecision"], "SCHEMATIC");
    assert_eq!(trouee["route"]["practices"], json!(["cycling-road"]));
    let length = trouee["route"]["lengthMeters"].as_f64().unwrap();
    assert!((2300.0..2500.0).contains(&length), "{length}");
    // On the routes layer, as a line.
    let routes: Value = server.get("/layers/routes.geojson").await.json().await.unwrap();
    let line =
        routes["features"].as_array().unwrap().iter().find(|f| f["properties"]["slug"] == "trouee-d-arenberg").unwrap();
    assert_eq!(line["geometry"]["type"], "LineString");
}
