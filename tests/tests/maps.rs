//! Maps: GeoJSON layers checked by an independent validator, vector tiles decoded by independent
//! decoders, TileJSON and the MapLibre style against their specs, caching, and the map page in a
//! real headless Chromium.
#![allow(clippy::unwrap_used)]

use std::f64::consts::PI;
use std::path::Path;

use serde_json::{Value, json};
use tests::{Options, TestServer, run_checker, skip_or_fail};

fn tmp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// Web Mercator, written here independently of the server's code.
fn tile_pixel(lon: f64, lat: f64, z: u32) -> (u32, u32, f64, f64) {
    let n = 2f64.powi(z as i32);
    let x = (lon + 180.0) / 360.0 * n;
    let lat = lat.to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0 * n;
    (x.floor() as u32, y.floor() as u32, x.fract() * 4096.0, y.fract() * 4096.0)
}

#[tokio::test]
async fn geojson_layers_are_rfc_7946_to_the_letter() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let index: Value = server.get("/layers").await.json().await.unwrap();
    let names: Vec<&str> = index["layers"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["offers", "routes", "footprints", "communes"]);
    let mut files = Vec::new();
    for name in &names {
        let res = server.get(&format!("/layers/{name}.geojson")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/geo+json");
        let text = res.text().await.unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let features = doc["features"].as_array().unwrap();
        assert!(!features.is_empty(), "{name} is empty");
        for f in features {
            assert!(f["id"].is_string(), "stable feature id");
            if *name != "communes" {
                for key in ["id", "slug", "name", "kind", "themes", "isTotem", "url"] {
                    assert!(!f["properties"][key].is_null(), "{name}: {key} missing");
                }
            }
        }
        // No more than six decimals anywhere.
        let too_precise = text
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .any(|n| n.split_once('.').is_some_and(|(_, d)| d.len() > 6));
        assert!(!too_precise, "{name} has more than six decimals");
        files.push(tmp_file(&dir, &format!("{name}.geojson"), text.as_bytes()));
    }
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let Some(report) = run_checker("check_geojson.py", &args) else { return };
    for (file, r) in report.as_object().unwrap() {
        assert_eq!(r["structure"], json!({}), "{file}: {r}");
        assert_eq!(r["invalid"], json!({}), "{file}: {r}");
        assert_eq!(r["problematic"], json!({}), "{file}: {r}");
    }
}

#[tokio::test]
async fn geojson_layers_filter_and_refuse_bad_input() {
    let server = TestServer::start().await;
    let get = |q: &'static str| server.get(q);
    let doc: Value = get("/layers/offers.geojson?commune=59526").await.json().await.unwrap();
    let features = doc["features"].as_array().unwrap();
    assert!(!features.is_empty());
    assert!(features.iter().all(|f| f["properties"]["commune"] == "59526"));
    let doc: Value = get("/layers/offers.geojson?kind=route").await.json().await.unwrap();
    assert!(doc["features"].as_array().unwrap().iter().all(|f| f["properties"]["kind"] == "route"));
    let doc: Value = get("/layers/footprints.geojson?theme=nature").await.json().await.unwrap();
    assert!(
        doc["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["themes"].as_array().unwrap().contains(&json!("nature")))
    );
    let doc: Value = get("/layers/offers.geojson?bbox=3.40,50.43,3.46,50.47").await.json().await.unwrap();
    for f in doc["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((3.40..=3.46).contains(&lon) && (50.43..=50.47).contains(&lat));
    }
    for bad in [
        "/layers/offers.geojson?bbox=1,2,3",
        "/layers/offers.geojson?bbox=4,50,3,51",
        "/layers/offers.geojson?kind=castle",
        "/layers/offers.geojson?theme=x",
        "/layers/offers.geojson?lang=xx",
    ] {
        let res = get(bad).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
    }
    assert_eq!(get("/layers/castles.geojson").await.status(), 404);
}

#[tokio::test]
async fn the_fosse_d_arenberg_lands_on_its_pixel_of_the_z14_tile() {
    let server = TestServer::start().await;
    let data = server.data(r#"{ offer(slug: "fosse-d-arenberg") { id location { lat lon } } }"#, json!({})).await;
    let (lat, lon) =
        (data["offer"]["location"]["lat"].as_f64().unwrap(), data["offer"]["location"]["lon"].as_f64().unwrap());
    let (tx, ty, px, py) = tile_pixel(lon, lat, 14);
    let res = server.get(&format!("/tiles/offers,footprints,routes,communes/14/{tx}/{ty}.mvt")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/vnd.mapbox-vector-tile");
    let bytes = res.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = tmp_file(&dir, "z14.mvt", &bytes);

    // The strict decoder accepts the tile.
    let z = "14".to_owned();
    let (x, y) = (tx.to_string(), ty.to_string());
    let Some(strict) = run_checker("tippecanoe-decode", &[&file, &z, &x, &y]) else { return };
    let layers: Vec<&str> =
        strict["features"].as_array().unwrap().iter().map(|l| l["properties"]["layer"].as_str().unwrap()).collect();
    assert_eq!(layers, ["offers", "footprints", "routes", "communes"], "one MVT layer each, in the order asked");

    let Some(tile) = run_checker("decode_mvt.py", &[&file]) else { return };
    assert_eq!(tile["offers"]["extent"], 4096);
    assert_eq!(tile["offers"]["version"], 2);
    let fosse = tile["offers"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["slug"] == "fosse-d-arenberg")
        .unwrap();
    let (fx, fy) = (fosse["coordinates"][0].as_f64().unwrap(), fosse["coordinates"][1].as_f64().unwrap());
    assert!((fx - px).abs() <= 1.0 && (fy - py).abs() <= 1.0, "at ({fx}, {fy}), expected ({px:.1}, {py:.1})");
    assert_eq!(fosse["properties"]["isTotem"], true);
    assert_eq!(fosse["properties"]["name"], "Fosse d'Arenberg");
    assert!(fosse["id"].as_u64().unwrap() > 0, "numeric feature id");

    // Polygon rings: exteriors clockwise on screen (positive area), holes the other way.
    for layer in ["communes", "footprints"] {
        for f in tile[layer]["features"].as_array().unwrap() {
            for rings in f["ring_areas"].as_array().unwrap() {
                let areas: Vec<f64> = rings.as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
                assert!(areas[0] > 0.0, "{layer} exterior ring of {} has area {}", f["properties"]["name"], areas[0]);
                assert!(areas[1..].iter().all(|a| *a < 0.0), "{layer} holes of {}", f["properties"]["name"]);
            }
        }
    }
}

#[tokio::test]
async fn every_zoom_decodes_strictly_and_ids_are_stable() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut ids_by_zoom = Vec::new();
    for z in [6u32, 8, 10, 12, 16] {
        let (tx, ty, _, _) = tile_pixel(3.4265, 50.3836, z);
        let bytes = server
            .get(&format!("/tiles/offers,footprints,routes,communes/{z}/{tx}/{ty}.mvt"))
            .await
            .bytes()
            .await
            .unwrap();
        assert!(!bytes.is_empty(), "z{z} is empty");
        let file = tmp_file(&dir, &format!("z{z}.mvt"), &bytes);
        let (zs, xs, ys) = (z.to_string(), tx.to_string(), ty.to_string());
        let Some(_) = run_checker("tippecanoe-decode", &[&file, &zs, &xs, &ys]) else { return };
        let Some(tile) = run_checker("decode_mvt.py", &[&file]) else { return };
        let fosse = tile["offers"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["slug"] == "fosse-d-arenberg")
            .map(|f| f["id"].clone());
        ids_by_zoom.push(fosse.unwrap());
    }
    assert!(ids_by_zoom.windows(2).all(|w| w[0] == w[1]), "the same feature keeps its id: {ids_by_zoom:?}");
}

#[tokio::test]
async fn empty_out_of_range_and_unknown_tiles_answer_as_documented() {
    let server = TestServer::start().await;
    // Mid-Atlantic: nothing to draw.
    let res = server.get("/tiles/offers,communes/10/300/400.mvt").await;
    assert_eq!(res.status(), 204);
    for (path, status) in [
        ("/tiles/offers/3/8/0.mvt", 400),
        ("/tiles/offers/23/0/0.mvt", 400),
        ("/tiles/offers/a/0/0.mvt", 400),
        ("/tiles/offers/1/0/-1.mvt", 400),
        ("/tiles/castles/1/0/0.mvt", 404),
        ("/tiles/offers,offers/1/0/0.mvt", 400),
        ("/tiles/offers/1/0/0.png", 404),
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status(), status, "{path}");
    }
    let body: Value = server.get("/tiles/offers/3/8/0.mvt").await.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("below 8"), "{body}");
}

#[tokio::test]
async fn tilejson_and_style_follow_their_specs() {
    let server = TestServer::start_with(Options {
        env: vec![("PUBLIC_URL".into(), "https://api.example.test/".into())],
        ..Default::default()
    })
    .await;
    let tj: Value = server.get("/tiles/offers,footprints,routes,communes.json").await.json().await.unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["tiles"][0], "https://api.example.test/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt");
    let layers = tj["vector_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 4);
    for l in layers {
        assert!(l["id"].is_string() && l["fields"].is_object());
    }
    let b: Vec<f64> = tj["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(b[0] > 3.2 && b[1] > 50.2 && b[2] < 3.6 && b[3] < 50.6, "bounds of the territory: {b:?}");
    let c: Vec<f64> = tj["center"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(c[0] > b[0] && c[0] < b[2] && c[1] > b[1] && c[1] < b[3]);
    assert!(tj["minzoom"].as_u64().unwrap() <= tj["maxzoom"].as_u64().unwrap());
    assert!(tj["attribution"].as_str().unwrap().contains("Licence Ouverte"));

    let style = server.get("/tiles/style.json").await.text().await.unwrap();
    let parsed: Value = serde_json::from_str(&style).unwrap();
    assert_eq!(parsed["version"], 8);
    assert_eq!(
        parsed["sources"]["offer"]["url"],
        "https://api.example.test/tiles/communes,footprints,routes,offers.json"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = tmp_file(&dir, "style.json", style.as_bytes());
    let Some(errors) = run_checker("style-validate.mjs", &[&file]) else { return };
    assert_eq!(errors, json!([]), "style errors");
}

#[tokio::test]
async fn tiles_are_cached_conditional_and_compressed() {
    let server = TestServer::start().await;
    let path = format!("{}/tiles/communes/10/521/345.mvt", server.url);
    let first = server.client.get(&path).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let again = server.client.get(&path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let plain = server.client.get(&path).send().await.unwrap().bytes().await.unwrap();
    // Compressed once per cached tile and served as it was kept: each body decodes to the tile,
    // with a validator of its own that still answers 304 for the tile.
    use std::io::Read;
    let mut etags = vec![etag.clone()];
    for (accept, coding) in
        [("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br, zstd", "br"), ("br;q=0, gzip", "gzip")]
    {
        for _ in 0..2 {
            let res = server.client.get(&path).header("accept-encoding", accept).send().await.unwrap();
            assert_eq!(res.headers()["content-encoding"], coding, "{accept}");
            assert_eq!(res.headers()["vary"], "accept-encoding");
            let tag = res.headers()["etag"].to_str().unwrap().to_owned();
            let body = res.bytes().await.unwrap();
            let mut decoded = Vec::new();
            if coding == "gzip" {
                flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded).unwrap();
            } else {
                brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded).unwrap();
            }
            assert_eq!(decoded, plain, "{accept}");
            let again = server.client.get(&path).header("if-none-match", &tag).send().await.unwrap();
            assert_eq!(again.status(), 304, "{accept}");
            etags.push(tag);
        }
    }
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), 3, "one validator per representation: {etags:?}");
    let none = server.client.get(&path).header("accept-encoding", "gzip;q=0, br;q=0").send().await.unwrap();
    assert!(none.headers().get("content-encoding").is_none());
    assert_eq!(none.bytes().await.unwrap(), plain);
    // Layers too.
    let layer = format!("{}/layers/offers.geojson", server.url);
    let plain = server.client.get(&layer).send().await.unwrap().bytes().await.unwrap();
    let gz = server.client.get(&layer).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]).read_to_end(&mut decoded).unwrap();
    assert_eq!(decoded, plain);
}

#[tokio::test]
async fn a_write_never_leaves_an_old_tile_behind() {
    let db = tests::SqliteDatabase::create();
    let server = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        env: vec![("CATALOG_POLL_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let (tx, ty, _, _) = tile_pixel(3.4265, 50.3836, 14);
    let path = format!("/tiles/offers/14/{tx}/{ty}.mvt");
    let before = server.get(&path).await.bytes().await.unwrap();
    let layer_before = server.get("/layers/offers.geojson").await.text().await.unwrap();
    assert!(layer_before.contains("Fosse d'Arenberg"));

    // Another process writes: renames the Fosse and bumps the catalog version.
    use sea_orm::ConnectionTrait;
    let conn = db.connect().await;
    conn.execute_unprepared(r#"UPDATE offers SET name = '{"fr":"Fosse d''Arenberg renommée"}', version = version + 1 WHERE slug = 'fosse-d-arenberg'"#).await.unwrap();
    conn.execute_unprepared("UPDATE catalog_state SET version = version + 1").await.unwrap();

    let mut after = before.clone();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = server.get(&path).await.bytes().await.unwrap();
        if after != before {
            break;
        }
    }
    assert_ne!(after, before, "the tile changed after the write");
    let text = String::from_utf8_lossy(&after);
    assert!(text.contains("renommée"));
    let layer_after = server.get("/layers/offers.geojson").await.text().await.unwrap();
    assert!(layer_after.contains("Fosse d'Arenberg renommée"));
}

#[tokio::test]
async fn the_map_page_renders_the_territory_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        skip_or_fail("chromium", "apt-get install chromium");
        return;
    }
    let server = TestServer::start().await;
    let page = server.get("/map").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/assets/maplibre-gl.js") && !html.contains("unpkg") && !html.contains("cdn"));
    assert!(!html.contains("<script>") && !html.contains("<style>"), "no inline code: {html}");
    assert_eq!(server.get("/assets/maplibre-gl.js").await.status(), 200);

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map.png");
    let url = format!("{}/map", server.url);
    let Some(report) = run_checker("map-check.mjs", &[&url, &shot.display().to_string()]) else { return };
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["mapError"], Value::Null, "{report}");
    assert!(report["policy"].as_str().unwrap().contains("script-src 'self'"), "{report}");
    assert_eq!(report["csp"], json!([]), "the page runs under its content security policy: {report}");
    assert!(report["rendered"].as_u64().unwrap() > 10, "{report}");
    let layers: Vec<&str> = report["layers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    for l in ["communes-fill", "footprints-fill", "offers-circle", "totems-circle"] {
        assert!(layers.contains(&l), "{l} not rendered: {layers:?}");
    }
    assert_eq!(report["popup"], "Fosse d'Arenberg", "{report}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "screenshot saved at {}", shot.display());
}

/// A box that a shape's bounding box meets while the shape itself does not is no match: the
/// layers and OGC API - Features select by geometry, as shapely (GEOS) does.
#[tokio::test]
async fn bbox_filters_select_shapes_that_meet_the_box_not_their_bounding_boxes() {
    let server = TestServer::start().await;
    for layer in ["communes", "footprints", "routes"] {
        let all = server.get(&format!("/layers/{layer}.geojson")).await.text().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{layer}.geojson"));
        std::fs::write(&file, &all).unwrap();
        let Some(case) = run_checker("intersects.py", &[file.to_str().unwrap(), "find"]) else { return };
        assert!(!case.is_null(), "no bounding-box-only case among the {layer}");
        let b = case["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap().to_string()).collect::<Vec<_>>();
        let bbox = b.join(",");
        let expected: Vec<String> =
            case["intersecting"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        let ids = |doc: &Value| {
            let mut v: Vec<String> =
                doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
            v.sort();
            v
        };
        let layer_doc: Value = server.get(&format!("/layers/{layer}.geojson?bbox={bbox}")).await.json().await.unwrap();
        assert_eq!(ids(&layer_doc), expected, "/layers/{layer}.geojson?bbox={bbox}: {case}");
        let ogc: Value =
            server.get(&format!("/ogc/collections/{layer}/items?bbox={bbox}&limit=1000")).await.json().await.unwrap();
        assert_eq!(ids(&ogc), expected, "OGC {layer} bbox={bbox}: {case}");
        for outside in case["bbox_only"].as_array().unwrap() {
            assert!(!ids(&ogc).contains(&outside.as_str().unwrap().to_owned()), "{outside} only meets by its box");
        }
    }
}

fn counter(metrics: &str, kind: &str, result: &str) -> u64 {
    let needle = format!("porte_du_hainaut_cache_requests_total{{kind=\"{kind}\",result=\"{result}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&needle)).map_or(0, |v| v.trim().parse().unwrap())
}

/// A write makes stale only the tiles over what it changed: a tile far away is still served from
/// the cache, unchanged, while the tile over the edited offer is encoded anew with the change.
#[tokio::test]
async fn a_write_recodes_only_the_tiles_it_touches() {
    let db = tests::SqliteDatabase::create();
    let server = TestServer::start_with(Options { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let editor = tests::create_key(&db.url, "desk", "editor", None);
    let (nx, ny, _, _) = tile_pixel(3.4265, 50.3836, 14);
    let near = format!("/tiles/offers,footprints/14/{nx}/{ny}.mvt");
    // Saint-Amand-les-Eaux, 15 km north.
    let (fx, fy, _, _) = tile_pixel(3.4268, 50.4481, 14);
    let far = format!("/tiles/offers,footprints/14/{fx}/{fy}.mvt");
    let etag = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_owned();
    let near_before = server.get(&near).await;
    let (near_etag, near_body) = (etag(&near_before), near_before.bytes().await.unwrap());
    let far_before = server.get(&far).await;
    assert_eq!(far_before.status(), 200, "the far tile holds offers");
    let far_etag = etag(&far_before);
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let (hits, misses) = (counter(&metrics, "tile", "hit"), counter(&metrics, "tile", "miss"));
    assert_eq!(misses, 2);

    let q = "{ offer(slug: \"fosse-d-arenberg\") { id version } }";
    let fosse = server.data(q, json!({})).await["offer"].clone();
    let update = "mutation($id: ID!, $v: Int!) { updateOffer(id: $id, expectedVersion: $v, input: { name: { fr: \"Fosse d'Arenberg (rouverte)\" } }) { version } }";
    let body = server.graphql_as(&editor, update, json!({ "id": fosse["id"], "v": fosse["version"] })).await;
    assert!(body.get("errors").is_none(), "{body}");

    let far_after = server.get(&far).await;
    assert_eq!(etag(&far_after), far_etag, "the far tile is the same tile");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(counter(&metrics, "tile", "hit"), hits + 1, "served from the cache");
    assert_eq!(counter(&metrics, "tile", "miss"), misses, "not encoded again");

    let near_after = server.get(&near).await;
    assert_ne!(etag(&near_after), near_etag);
    let bytes = near_after.bytes().await.unwrap();
    assert_ne!(bytes, near_body);
    assert!(String::from_utf8_lossy(&bytes).contains("(rouverte)"), "the tile over the change has it");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(counter(&metrics, "tile", "miss"), misses + 1, "encoded anew");
}

/// The value of a metric line without labels.
fn plain_metric(metrics: &str, name: &str) -> u64 {
    let needle = format!("{name} ");
    metrics.lines().find_map(|l| l.strip_prefix(&needle)).map_or(0, |v| v.trim().parse().unwrap())
}

/// What a response is, less what changes from one request to the next (the date, where the
/// caller stands in its minute).
#[derive(PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} and {} bytes", self.status, self.headers, self.body.len())
    }
}

async fn answer_of(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "ratelimit-remaining" | "ratelimit-reset"))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    Answer { status, headers, body: res.bytes().await.unwrap().to_vec() }
}

/// A tile the process holds is answered before the router (`tiles::hot`): the answer must be the
/// router's to the byte, headers included, and the request counted once against its quota. The
/// router answers the same tile asked with a percent-encoded path (`%2C`), which the lane leaves
/// to it.
#[tokio::test]
async fn hot_tiles_answer_as_the_router_does() {
    // Every origin (the default: the lane's headers are made once) and a list of origins (the
    // CORS layer runs on each answer).
    the_lane_answers_as_the_router("*", "https://site.example", None).await;
    the_lane_answers_as_the_router("https://site.example", "https://site.example", Some("https://evil.example")).await;
}

async fn the_lane_answers_as_the_router(origins: &str, allowed: &str, refused: Option<&str>) {
    let server = TestServer::start_with(Options {
        env: vec![("CORS_ORIGINS".into(), origins.into()), ("RATE_LIMIT_ANONYMOUS".into(), "1000".into())],
        ..Options::default()
    })
    .await;
    let lane = |tail: &str| format!("{}/tiles/offers,communes/12/2086/1380.mvt{tail}", server.url);
    let router = |tail: &str| format!("{}/tiles/offers%2Ccommunes/12/2086/1380.mvt{tail}", server.url);
    let hot = || async {
        plain_metric(&server.get("/metrics").await.text().await.unwrap(), "porte_du_hainaut_hot_tiles_total")
    };
    // The first request misses: the lane hands it to the router, which encodes the tile.
    let first = server.client.get(lane("")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(hot().await, 0);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("", vec![]),
        ("", vec![("accept-encoding", "gzip".into())]),
        ("", vec![("accept-encoding", "gzip, deflate, br".into())]),
        ("", vec![("origin", allowed.into())]),
        ("", vec![("origin", allowed.into()), ("accept-encoding", "gzip".into())]),
        ("", vec![("if-none-match", etag.clone())]),
        ("", vec![("if-none-match", "\"another\"".into())]),
        ("?lang=en", vec![]),
        ("?lang=en&outside=true", vec![("accept-encoding", "br".into())]),
    ];
    let mut answered = 0;
    for (tail, headers) in &cases {
        // Once for the cache to hold what this case asks for (another language is another tile).
        let mut warm = server.client.get(lane(tail));
        for (k, v) in headers {
            warm = warm.header(*k, v);
        }
        warm.send().await.unwrap();
        answered = hot().await;
        let send = |url: String| {
            let mut req = server.client.get(url);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.send()
        };
        let by_lane = send(lane(tail)).await.unwrap();
        let by_router = send(router(tail)).await.unwrap();
        let remaining = |r: &reqwest::Response| -> (u64, u64) {
            let n = |h: &str| r.headers()[h].to_str().unwrap().parse::<u64>().unwrap();
            (n("ratelimit-remaining"), n("ratelimit-reset"))
        };
        let ((lane_left, lane_reset), (router_left, router_reset)) = (remaining(&by_lane), remaining(&by_router));
        // One request apart, counted once each (unless a new minute started between them).
        assert!(
            lane_left == router_left + 1 || router_reset > lane_reset,
            "{tail} {headers:?}: {lane_left} then {router_left}"
        );
        let (by_lane, by_router) = (answer_of(by_lane).await, answer_of(by_router).await);
        assert!(matches!(by_lane.status, 200 | 304), "{tail} {headers:?}: {by_lane:?}");
        assert_eq!(by_lane, by_router, "{tail} {headers:?}");
        assert_eq!(hot().await, answered + 1, "the lane answered {tail} {headers:?} itself");
    }
    // What the lane leaves to the router: a page of a foreign origin is refused, a bad query is
    // an error, a key is checked.
    let mut others = vec![
        ("?lang=xx", vec![], 400),
        ("?outside=maybe", vec![], 400),
        ("", vec![("authorization", "Bearer not-a-key")], 401),
    ];
    if let Some(refused) = refused {
        others.push(("", vec![("origin", refused)], 403));
    }
    for (tail, headers, status) in others {
        let send = |url: String| {
            let mut req = server.client.get(url);
            for (k, v) in &headers {
                req = req.header(*k, *v);
            }
            req.send()
        };
        let (by_lane, by_router) = (send(lane(tail)).await.unwrap(), send(router(tail)).await.unwrap());
        let (by_lane, by_router) = (answer_of(by_lane).await, answer_of(by_router).await);
        assert_eq!(by_lane.status, status, "{tail} {headers:?}");
        assert_eq!(by_lane, by_router, "{tail} {headers:?}");
    }
    assert_eq!(hot().await, answered + 1, "refusals and errors come from the router");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let route = "route=\"/tiles/{layers}/{z}/{x}/{y}\"";
    let count = |status: &str| {
        let needle = format!("porte_du_hainaut_http_requests_total{{{route},status=\"{status}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&needle)).map_or(0, |v| v.trim().parse::<u64>().unwrap())
    };
    // The first request, then each case three times (warming, lane, router); 304 thrice.
    assert_eq!(count("200"), 1 + 3 * cases.len() as u64 - 3, "{metrics}");
    assert_eq!(count("304"), 3, "{metrics}");
    assert_eq!(count("403"), if refused.is_some() { 2 } else { 0 }, "{metrics}");
    assert_eq!(count("400"), 4, "{metrics}");
    assert_eq!(count("401"), 2, "{metrics}");
}

/// Over its quota, a tile the process holds is refused as every other request is: 429 with
/// `Retry-After`, the CORS headers, and the same body whichever way it came.
#[tokio::test]
async fn hot_tiles_keep_the_quota() {
    let server = TestServer::start_with(Options {
        env: vec![("RATE_LIMIT_ANONYMOUS".into(), "4".into())],
        ..Options::default()
    })
    .await;
    let lane = format!("{}/tiles/communes/10/521/345.mvt", server.url);
    let router = format!("{}/tiles/communes/10/521/%33%34%35.mvt", server.url);
    // Start early enough in a minute for the five requests to fall in it.
    loop {
        let first = server.client.get(&lane).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let reset: u64 = first.headers()["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        if reset >= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(reset + 1)).await;
    }
    for _ in 0..3 {
        let res = server.client.get(&lane).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let by_lane = server.client.get(&lane).header("origin", "https://partner.example").send().await.unwrap();
    let by_router = server.client.get(&router).header("origin", "https://partner.example").send().await.unwrap();
    let (by_lane, by_router) = (answer_of(by_lane).await, answer_of(by_router).await);
    assert_eq!(by_lane.status, 429);
    assert_eq!(by_lane, by_router);
    assert!(by_lane.headers.iter().any(|(k, v)| k == "access-control-allow-origin" && v == "*"), "{by_lane:?}");
    assert!(by_lane.headers.iter().any(|(k, _)| k == "retry-after"), "{by_lane:?}");
    let body: serde_json::Value = serde_json::from_slice(&by_lane.body).unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
}
