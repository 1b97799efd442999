//! The read API over HTTP on the seeded territory: filters, ordering, paging, languages, errors.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use serde_json::{Value, json};
use tests::TestServer;

const FOSSE_ARENBERG: (f64, f64) = (50.3836, 3.4265);

#[tokio::test]
async fn near_the_fosse_d_arenberg_returns_it_first_then_by_distance() {
    let server = TestServer::start().await;
    let data = server
        .data(
            "query($lat: Float!, $lon: Float!) { offers(filter: { near: { lat: $lat, lon: $lon, radiusMeters: 3000 } }, first: 50) {
                totalCount edges { node { name slug distanceMeters location { lat lon } commune { code name } themes { code } } } } }",
            json!({ "lat": FOSSE_ARENBERG.0, "lon": FOSSE_ARENBERG.1 }),
        )
        .await;
    let edges = data["offers"]["edges"].as_array().unwrap();
    assert!(edges.len() > 5);
    let first = &edges[0]["node"];
    assert_eq!(first["name"], "Fosse d'Arenberg");
    assert!(first["distanceMeters"].as_f64().unwrap() < 200.0);
    assert_eq!(first["commune"]["name"], "Wallers");
    let distances: Vec<f64> = edges.iter().map(|e| e["node"]["distanceMeters"].as_f64().unwrap()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "not ordered by distance: {distances:?}");
    assert!(distances.iter().all(|d| *d <= 3000.0));
}

#[tokio::test]
async fn bbox_around_saint_amand_returns_only_offers_inside_it() {
    let server = TestServer::start().await;
    let (west, south, east, north) = (3.40, 50.43, 3.46, 50.47);
    let data = server
        .data(
            "query($b: BboxInput!) { offers(filter: { bbox: $b }, first: 100) { totalCount edges { node { name location { lat lon } } } } }",
            json!({ "b": { "west": west, "south": south, "east": east, "north": north } }),
        )
        .await;
    let edges = data["offers"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    let names: Vec<&str> = edges.iter().map(|e| e["node"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"musée de la Tour abbatiale"), "{names:?}");
    for e in edges {
        let (lat, lon) =
            (e["node"]["location"]["lat"].as_f64().unwrap(), e["node"]["location"]["lon"].as_f64().unwrap());
        assert!((west..=east).contains(&lon) && (south..=north).contains(&lat), "{e} is outside the box");
    }
    assert_eq!(data["offers"]["totalCount"].as_u64().unwrap() as usize, edges.len());
}

#[tokio::test]
async fn text_search_ignores_accents_case_and_punctuation() {
    let server = TestServer::start().await;
    for text in ["tour abbatiale", "TOUR-ABBATIALE", "Tour Abbatiale !", "musee tour abbatiale"] {
        let data = server
            .data(
                "query($t: String!) { offers(filter: { text: $t }) { edges { node { name } } } }",
                json!({ "t": text }),
            )
            .await;
        assert_eq!(data["offers"]["edges"][0]["node"]["name"], "musée de la Tour abbatiale", "for {text:?}: {data}");
    }
    let data = server
        .data(r#"{ offers(filter: { text: "eglise sainte barbe" }) { edges { node { name } } } }"#, json!({}))
        .await;
    assert_eq!(data["offers"]["edges"][0]["node"]["name"], "Église Sainte-Barbe");
    let data = server.data(r#"{ offers(filter: { text: "zzzz qqqq" }) { totalCount } }"#, json!({})).await;
    assert_eq!(data["offers"]["totalCount"], 0);
}

#[tokio::test]
async fn paging_seven_at_a_time_returns_each_offer_exactly_once_in_every_order() {
    let server = TestServer::start().await;
    // By name, by distance, by relevance: pages of seven give the same sequence as one page of all.
    for filter in [
        json!({}),
        json!({ "near": { "lat": 50.3836, "lon": 3.4265, "radiusMeters": 30000 } }),
        json!({ "text": "cite" }),
    ] {
        let all = server
            .data(
                "query($f: OfferFilter) { offers(filter: $f, first: 100) { totalCount edges { node { id } } } }",
                json!({ "f": filter }),
            )
            .await;
        let total = all["offers"]["totalCount"].as_u64().unwrap();
        assert!(total > 7, "{filter}: {total} matches");
        let expected: Vec<&str> =
            all["offers"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
        assert_eq!(expected.len() as u64, total);
        let mut paged: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let data = server
                .data(
                    "query($f: OfferFilter, $after: String) { offers(filter: $f, first: 7, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } }",
                    json!({ "f": filter, "after": after }),
                )
                .await;
            let page = &data["offers"];
            assert_eq!(page["totalCount"].as_u64().unwrap(), total);
            assert_eq!(page["pageInfo"]["hasPreviousPage"].as_bool().unwrap(), pages > 0);
            let edges = page["edges"].as_array().unwrap();
            assert!(edges.len() <= 7);
            paged.extend(edges.iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()));
            pages += 1;
            if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
            assert!(pages < 100);
        }
        assert_eq!(paged, expected, "{filter}");
        assert_eq!(pages, total.div_ceil(7));
        assert_eq!(paged.iter().collect::<HashSet<_>>().len() as u64, total, "{filter}: an offer seen twice");
    }
    // A cursor of one ordering is refused by another.
    let by_name = server.data("{ offers(first: 1) { pageInfo { endCursor } } }", json!({})).await;
    let cursor = by_name["offers"]["pageInfo"]["endCursor"].as_str().unwrap();
    let body = server
        .graphql(
            "query($after: String) { offers(filter: { text: \"cite\" }, after: $after) { totalCount } }",
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn totem_filter_returns_its_correlates() {
    let server = TestServer::start().await;
    let totems = server
        .data("{ totems { id slug name isTotem correlates(first: 100) { id } themes { code } } }", json!({}))
        .await;
    let totems = totems["totems"].as_array().unwrap();
    assert_eq!(totems.len(), 5);
    assert!(totems.iter().all(|t| t["isTotem"] == true));
    let arenberg = totems.iter().find(|t| t["slug"] == "fosse-d-arenberg").unwrap();
    let data = server
        .data(
            "query($t: ID!) { offers(filter: { totem: $t }, first: 100) { totalCount edges { node { id totems { slug } } } } }",
            json!({ "t": arenberg["id"] }),
        )
        .await;
    let ids: HashSet<&str> =
        data["offers"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
    let expected: HashSet<&str> =
        arenberg["correlates"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.len() > 40, "the mining totem has its heritage as corrélats");
    assert_eq!(ids, expected);
    for e in data["offers"]["edges"].as_array().unwrap() {
        assert!(e["node"]["totems"].as_array().unwrap().iter().any(|t| t["slug"] == "fosse-d-arenberg"));
    }
}

#[tokio::test]
async fn languages_fall_back_to_french_and_say_so() {
    let server = TestServer::start().await;
    let q = "query($lang: Lang) { themes(lang: $lang) { code name nameLang } offers(first: 1, lang: $lang) { edges { node { name nameLang } } } }";
    let de = server.data(q, json!({ "lang": "DE" })).await;
    let nature = de["themes"].as_array().unwrap().iter().find(|t| t["code"] == "nature").unwrap().clone();
    assert_eq!(nature["name"], "Natur und Wald");
    assert_eq!(nature["nameLang"], "DE");
    // Offer names exist in French only: the fallback is said.
    assert_eq!(de["offers"]["edges"][0]["node"]["nameLang"], "FR");

    let by_header = server.graphql_with(q, json!({}), &[("accept-language", "nl-BE,nl;q=0.9,en;q=0.5")]).await;
    let nature =
        by_header["data"]["themes"].as_array().unwrap().iter().find(|t| t["code"] == "nature").unwrap().clone();
    assert_eq!(nature["name"], "Natuur en bos");
    // The argument wins over the header.
    let both = server.graphql_with(q, json!({ "lang": "EN" }), &[("accept-language", "nl")]).await;
    let nature = both["data"]["themes"].as_array().unwrap().iter().find(|t| t["code"] == "nature").unwrap().clone();
    assert_eq!(nature["name"], "Nature and forest");
}

#[tokio::test]
async fn bad_arguments_are_bad_user_input() {
    let server = TestServer::start().await;
    let cases = [
        "{ offers(first: 101) { totalCount } }",
        "{ offers(first: -1) { totalCount } }",
        "{ offers(filter: { near: { lat: 95, lon: 3, radiusMeters: 10 } }) { totalCount } }",
        "{ offers(filter: { near: { lat: 50, lon: 3, radiusMeters: 0 } }) { totalCount } }",
        "{ offers(filter: { bbox: { west: 4, south: 50, east: 3, north: 51 } }) { totalCount } }",
        r#"{ offers(filter: { themes: ["castles"] }) { totalCount } }"#,
        r#"{ offers(filter: { communes: ["Wallers"] }) { totalCount } }"#,
        r#"{ offers(after: "garbage") { totalCount } }"#,
        r#"{ offers(filter: { text: "  !!  " }) { totalCount } }"#,
        r#"{ offer(id: "a", slug: "b") { name } }"#,
    ];
    for q in cases {
        let body = server.graphql(q, json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{q}: {body}");
    }
    let body = server.graphql(r#"{ offers(filter: { totem: "no-such-totem" }) { totalCount } }"#, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
}

#[tokio::test]
async fn an_offer_carries_its_facts_and_provenance() {
    let server = TestServer::start().await;
    let data = server
        .data(
            r#"{ offer(slug: "musee-de-la-tour-abbatiale") { id slug kind classes name shortDescription isTotem totems { slug }
                 location { lat lon } geoPrecision geometry commune { code name postcodes } address { street postalCode locality }
                 contact { phones websites } labels source { name id licence attribution } url
                 nearby(radiusMeters: 2000, first: 3) { name distanceMeters } } }"#,
            json!({}),
        )
        .await;
    let o = &data["offer"];
    assert_eq!(o["kind"], "SITE");
    assert_eq!(o["commune"]["code"], "59526");
    assert_eq!(o["geoPrecision"], "EXACT");
    assert_eq!(o["geometry"]["type"], "Point");
    assert_eq!(o["contact"]["phones"][0], "03 27 22 24 55");
    assert!(o["labels"].as_array().unwrap().contains(&json!("musee-de-france")));
    assert_eq!(o["source"]["id"], "museofile:M0635");
    assert!(o["source"]["licence"].as_str().unwrap().contains("Licence Ouverte"));
    assert!(o["url"].as_str().unwrap().ends_with("/offres/musee-de-la-tour-abbatiale"));
    assert!(o["totems"].as_array().unwrap().iter().any(|t| t["slug"] == "station-thermale-de-saint-amand-les-eaux"));
    let nearby: Vec<f64> =
        o["nearby"].as_array().unwrap().iter().map(|n| n["distanceMeters"].as_f64().unwrap()).collect();
    assert!(nearby.windows(2).all(|w| w[0] <= w[1]));

    let by_id = server.data("query($id: ID!) { offer(id: $id) { slug } }", json!({ "id": o["id"] })).await;
    assert_eq!(by_id["offer"]["slug"], "musee-de-la-tour-abbatiale");
    let missing = server.data(r#"{ offer(slug: "nowhere") { slug } }"#, json!({})).await;
    assert_eq!(missing["offer"], Value::Null);
}

#[tokio::test]
async fn routes_expose_ordered_stages_length_and_practices() {
    let server = TestServer::start().await;
    let data = server
        .data("{ routes { slug kind geometry route { lengthMeters practices linePrecision stages { slug location { lat lon } } } } }", json!({}))
        .await;
    let routes = data["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 5);
    for r in routes {
        assert_eq!(r["kind"], "ROUTE");
        assert_eq!(r["geometry"]["type"], "LineString");
        let stages = r["route"]["stages"].as_array().unwrap();
        let line = r["geometry"]["coordinates"].as_array().unwrap();
        if r["slug"] == "trouee-d-arenberg" {
            // The totem is a road, not a tour of places: a straight schematic line, no stage.
            assert_eq!((stages.len(), line.len()), (0, 2), "{r}");
        } else {
            assert_eq!(stages.len(), line.len(), "a schematic line joins the stages");
        }
        assert_eq!(r["route"]["linePrecision"], "SCHEMATIC");
        assert!(r["route"]["lengthMeters"].as_f64().unwrap() > 500.0);
        assert!(!r["route"]["practices"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn communes_and_themes_are_listed() {
    let server = TestServer::start().await;
    let data = server.data(r#"{ communes { code name population } commune(code: "59632") { name postcodes offerCount geometry } themes { code totem { name } offerCount } }"#, json!({})).await;
    assert_eq!(data["communes"].as_array().unwrap().len(), 47);
    assert_eq!(data["commune"]["name"], "Wallers");
    assert!(data["commune"]["offerCount"].as_u64().unwrap() > 10);
    assert_eq!(data["commune"]["geometry"]["type"], "Polygon");
    let themes = data["themes"].as_array().unwrap();
    assert_eq!(themes.len(), 5);
    assert!(themes.iter().all(|t| t["totem"]["name"].is_string()));
}

#[tokio::test]
async fn the_sdl_is_served_and_matches_the_committed_file() {
    let server = TestServer::start().await;
    let res = server.get("/graphql/schema.graphql").await;
    assert_eq!(res.status(), 200);
    let served = res.text().await.unwrap();
    let committed = include_str!("../../api/schema.graphql");
    assert_eq!(
        served.trim(),
        committed.trim(),
        "api/schema.graphql is stale: run `cargo run -p api -- schema > api/schema.graphql`"
    );
}

#[tokio::test]
async fn answers_keep_the_documents_field_order_and_write_geometries_as_rfc_7946() {
    let server = TestServer::start().await;
    // Fields asked in an order that is not alphabetical: the answer keeps it, as the GraphQL
    // specification recommends, geometries included.
    let query = "{ offers(first: 100) { totalCount edges { node { name id kind geometry } } } }";
    let text = server
        .client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let positions: Vec<usize> =
        ["\"name\":", "\"id\":", "\"kind\":", "\"geometry\":"].iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "fields out of the document's order: {}", &text[..300]);
    assert!(text.find("\"data\":").unwrap() < text.find("\"totalCount\":").unwrap());
    assert!(text.find("\"totalCount\":").unwrap() < text.find("\"edges\":").unwrap());
    // Each geometry is a GeoJSON object: a type, positions of at most six decimals, polygons'
    // exterior rings counter-clockwise and holes clockwise.
    let body: Value = serde_json::from_str(&text).unwrap();
    let signed_area = |ring: &[Value]| {
        ring.windows(2)
            .map(|w| {
                let (a, b) = (w[0].as_array().unwrap(), w[1].as_array().unwrap());
                a[0].as_f64().unwrap() * b[1].as_f64().unwrap() - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
            })
            .sum::<f64>()
    };
    let mut polygons = 0;
    for edge in body["data"]["offers"]["edges"].as_array().unwrap() {
        let g = &edge["node"]["geometry"];
        let kind = g["type"].as_str().unwrap();
        let coordinates = g["coordinates"].to_string();
        for number in
            coordinates.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).filter(|n| !n.is_empty())
        {
            let decimals = number.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 6, "{number} in {kind}");
        }
        let polygon_list: Vec<&Value> = match kind {
            "Polygon" => vec![&g["coordinates"]],
            "MultiPolygon" => g["coordinates"].as_array().unwrap().iter().collect(),
            _ => continue,
        };
        for rings in polygon_list {
            for (i, ring) in rings.as_array().unwrap().iter().enumerate() {
                let area = signed_area(ring.as_array().unwrap());
                assert!(if i == 0 { area > 0.0 } else { area < 0.0 }, "ring {i} of a {kind} turns the wrong way");
            }
            polygons += 1;
        }
    }
    assert!(polygons > 0, "the territory's offers include footprints");
}
