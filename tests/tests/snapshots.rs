//! Snapshots of whole responses where every byte matters to a client: the totems with their
//! themes, a `near` page, a TileJSON document and the first features of the routes layer.
//! (The SDL is compared with `api/schema.graphql` in `offers.rs`.) After an intended change,
//! review and accept with `cargo insta review` or `INSTA_UPDATE=always`.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tests::{Options, TestServer};

#[tokio::test]
async fn responses_match_their_snapshots() {
    let server = TestServer::start_with(Options {
        env: vec![("PUBLIC_URL".into(), "https://api.example.test".into())],
        ..Default::default()
    })
    .await;
    let totems = server
        .data("{ totems { id slug name isTotem geoPrecision location { lat lon } commune { code name } themes { code name color } } }", json!({}))
        .await;
    insta::assert_json_snapshot!("totems", totems);

    let near = server
        .data(
            "{ offers(filter: { near: { lat: 50.3836, lon: 3.4265, radiusMeters: 1500 } }, first: 5, lang: EN) { totalCount pageInfo { hasNextPage } edges { cursor node { slug name nameLang distanceMeters labels } } } }",
            json!({}),
        )
        .await;
    insta::assert_json_snapshot!("near_fosse_arenberg", near);

    let tilejson: Value = server.get("/tiles/offers,routes.json").await.json().await.unwrap();
    insta::assert_json_snapshot!("tilejson_offers_routes", tilejson);

    let routes: Value = server.get("/layers/routes.geojson").await.json().await.unwrap();
    insta::assert_json_snapshot!("routes_layer", routes);
}
