//! OGC API - Features, Part 1: Core, over the same four layers (`/ogc`): landing page,
//! conformance, an OpenAPI 3.0 description, collections, items (with `bbox`, `limit`/`offset`,
//! `datetime` for events and property filters) and single items, as GeoJSON.

use std::collections::HashMap;

use crate::extract::Query;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::catalog::{Catalog, point_inside};
use crate::error::{Error, Result};
use crate::lang::Lang;
use crate::layers::{offer_feature, parse_bbox};
use crate::state::Reads;
use crate::tiles::{Layer, territory_bounds};

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

fn check_format(q: &HashMap<String, String>) -> Result<()> {
    match q.get("f").map(String::as_str) {
        None | Some("json") | Some("geojson") => Ok(()),
        Some(f) => Err(Error::BadUserInput(format!("f={f}: only json is offered"))),
    }
}

/// `GET /ogc`.
pub async fn landing(
    State(state): State<Reads>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    check_format(&q)?;
    let base = format!("{}/ogc", state.config.base_url(&headers));
    Ok(Json(json!({
        "title": "La Porte du Hainaut: the tourist offer",
        "description": "OGC API - Features over the offers, footprints, routes and communes of La Porte du Hainaut",
        "links": [
            { "href": base, "rel": "self", "type": "application/json", "title": "This document" },
            { "href": format!("{base}/api"), "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "The API definition" },
            { "href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "Conformance classes" },
            { "href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "The collections" },
        ],
    })))
}

/// `GET /ogc/conformance`.
pub async fn conformance(Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>> {
    check_format(&q)?;
    Ok(Json(json!({ "conformsTo": CONFORMANCE })))
}

fn collection(base: &str, catalog: &Catalog, layer: Layer) -> Value {
    let bbox = territory_bounds(catalog);
    let id = layer.name();
    let mut c = json!({
        "id": id,
        "title": id,
        "description": layer.description(),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "links": [
            { "href": format!("{base}/collections/{id}"), "rel": "self", "type": "application/json", "title": id },
            { "href": format!("{base}/collections/{id}/items"), "rel": "items", "type": "application/geo+json", "title": format!("{id} items") },
        ],
    });
    if layer != Layer::Communes {
        let (start, end) = catalog
            .by_name()
            .flat_map(|o| o.occurrences.iter())
            .fold((None::<DateTime<Utc>>, None::<DateTime<Utc>>), |(s, e), x| {
                (Some(s.map_or(x.start, |s| s.min(x.start))), Some(e.map_or(x.end, |e| e.max(x.end))))
            });
        if let (Some(s), Some(e)) = (start, end) {
            c["extent"]["temporal"] = json!({ "interval": [[s.to_rfc3339(), e.to_rfc3339()]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian" });
        }
    }
    c
}

fn layer(id: &str) -> Result<Layer> {
    Layer::from_name(id)
        .ok_or_else(|| Error::NotFound(format!("no collection {id:?}: offers, footprints, routes, communes")))
}

/// `GET /ogc/collections`.
pub async fn collections(
    State(state): State<Reads>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    check_format(&q)?;
    let base = format!("{}/ogc", state.config.base_url(&headers));
    let catalog = state.catalog.get();
    Ok(Json(json!({
        "links": [{ "href": format!("{base}/collections"), "rel": "self", "type": "application/json", "title": "The collections" }],
        "collections": Layer::ALL.iter().rev().map(|l| collection(&base, &catalog, *l)).collect::<Vec<_>>(),
    })))
}

/// `GET /ogc/collections/{id}`.
pub async fn one_collection(
    State(state): State<Reads>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    check_format(&q)?;
    let base = format!("{}/ogc", state.config.base_url(&headers));
    Ok(Json(collection(&base, &state.catalog.get(), layer(&id)?)))
}

/// A time window; `None` is an open end.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Reads `datetime`: an instant or an interval `start/end`, `..` (or nothing) for an open end.
/// A date (`2026-07-14`) stands for its whole day in UTC: alone, the day; as a start, its first
/// instant; as an end, its last. An interval that ends before it starts is a 400.
fn datetime(v: &str) -> Result<Window> {
    let bad =
        || Error::BadUserInput(format!("datetime {v:?}: an RFC 3339 instant or interval start/end (.. for open)"));
    // The first and last instants one end stands for.
    let read = |s: &str| -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        if s.is_empty() || s == ".." {
            return Ok(None);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            let t = t.with_timezone(&Utc);
            return Ok(Some((t, t)));
        }
        let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        let first = day.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
        let last = day.and_hms_nano_opt(23, 59, 59, 999_999_999).ok_or_else(bad)?.and_utc();
        Ok(Some((first, last)))
    };
    let (start, end) = match v.split_once('/') {
        Some((a, b)) => (read(a)?.map(|(first, _)| first), read(b)?.map(|(_, last)| last)),
        None => read(v)?.map_or((None, None), |(first, last)| (Some(first), Some(last))),
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(Error::BadUserInput(format!("datetime {v:?}: the interval ends before it starts")));
    }
    Ok((start, end))
}

const OFFER_FILTERS: [&str; 5] = ["kind", "theme", "commune", "slug", "isTotem"];
const COMMUNE_FILTERS: [&str; 2] = ["code", "name"];

/// `GET /ogc/collections/{id}/items`.
pub async fn items(
    State(state): State<Reads>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    check_format(&q)?;
    let layer = layer(&id)?;
    let allowed: &[&str] = if layer == Layer::Communes { &COMMUNE_FILTERS } else { &OFFER_FILTERS };
    for k in q.keys() {
        if !["bbox", "limit", "offset", "datetime", "f", "lang"].contains(&k.as_str()) && !allowed.contains(&k.as_str())
        {
            return Err(Error::BadUserInput(format!(
                "unknown parameter {k:?}; filters of {id}: {}",
                allowed.join(", ")
            )));
        }
    }
    let limit = q
        .get("limit")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| Error::BadUserInput("limit must be a number".into()))?
        .unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(Error::BadUserInput("limit must be between 1 and 1000".into()));
    }
    let offset = q
        .get("offset")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| Error::BadUserInput("offset must be a number".into()))?
        .unwrap_or(0);
    let bbox = q.get("bbox").map(|b| parse_bbox(b)).transpose()?;
    let window = q.get("datetime").map(|d| datetime(d)).transpose()?;
    let lang = crate::tiles::parse_lang(q.get("lang").map(String::as_str))?;
    let catalog = state.catalog.get();
    let website = state.config.website_url();
    let features: Vec<Value> = if layer == Layer::Communes {
        catalog
            .communes
            .iter()
            .filter(|c| bbox.is_none_or(|b| c.meets(b)))
            .filter(|c| q.get("code").is_none_or(|v| &c.insee == v) && q.get("name").is_none_or(|v| &c.name == v))
            .map(|c| json!({ "type": "Feature", "id": c.insee, "geometry": c.geometry_json, "properties": { "code": c.insee, "name": c.name, "population": c.population } }))
            .collect()
    } else {
        let candidates: Vec<&std::sync::Arc<crate::catalog::OfferRecord>> = match bbox {
            Some(b) => {
                let mut v = catalog.intersecting(b);
                v.sort_by(|a, b| a.sort_name.cmp(&b.sort_name).then(a.id.cmp(&b.id)));
                v
            }
            None => catalog.by_name().collect(),
        };
        candidates
            .into_iter()
            .filter(|o| layer.holds(o) && o.in_territory)
            .filter(|o| q.get("kind").is_none_or(|v| o.kind.code() == v))
            .filter(|o| q.get("theme").is_none_or(|v| o.themes.iter().any(|t| **t == **v)))
            .filter(|o| q.get("commune").is_none_or(|v| o.commune.as_deref() == Some(v.as_str())))
            .filter(|o| q.get("slug").is_none_or(|v| *o.slug == **v))
            .filter(|o| q.get("isTotem").is_none_or(|v| v == if o.is_totem { "true" } else { "false" }))
            // Features whose geometry intersects the box (Part 1, 7.15.3): the point of the
            // offers layer, the shapes of the others.
            .filter(|o| bbox.is_none_or(|b| if layer == Layer::Offers { point_inside(o.point, b) } else { o.meets(b) }))
            .filter(|o| {
                window.is_none_or(|(s, e)| {
                    o.occurrences.iter().any(|x| s.is_none_or(|s| x.end >= s) && e.is_none_or(|e| x.start <= e))
                })
            })
            .map(|o| offer_feature(o, layer, lang, &website))
            .collect()
    };
    let matched = features.len();
    let page: Vec<Value> = features.into_iter().skip(offset).take(limit).collect();
    let base = format!("{}/ogc/collections/{id}", state.config.base_url(&headers));
    let mut query: Vec<String> =
        q.iter().filter(|(k, _)| k.as_str() != "offset").map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    query.sort();
    let qs = |off: usize| {
        let mut parts = query.clone();
        parts.push(format!("offset={off}"));
        parts.join("&")
    };
    let mut links = vec![
        json!({ "href": format!("{base}/items?{}", qs(offset)), "rel": "self", "type": "application/geo+json", "title": "This page" }),
        json!({ "href": base, "rel": "collection", "type": "application/json", "title": id }),
    ];
    if offset + page.len() < matched {
        links.push(json!({ "href": format!("{base}/items?{}", qs(offset + page.len())), "rel": "next", "type": "application/geo+json", "title": "Next page" }));
    }
    if offset > 0 {
        links.push(json!({ "href": format!("{base}/items?{}", qs(offset.saturating_sub(limit))), "rel": "prev", "type": "application/geo+json", "title": "Previous page" }));
    }
    let doc = json!({
        "type": "FeatureCollection",
        "features": page,
        "numberMatched": matched,
        "numberReturned": page.len(),
        "timeStamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links,
    });
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], doc.to_string()).into_response())
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
pub async fn item(
    State(state): State<Reads>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    check_format(&q)?;
    let layer = layer(&id)?;
    let catalog = state.catalog.get();
    let mut feature = if layer == Layer::Communes {
        let c = catalog.commune(&fid).ok_or_else(|| Error::NotFound(format!("no feature {fid} in {id}")))?;
        json!({ "type": "Feature", "id": c.insee, "geometry": c.geometry_json, "properties": { "code": c.insee, "name": c.name, "population": c.population } })
    } else {
        let o = catalog
            .by_id(&fid)
            .filter(|o| layer.holds(o))
            .ok_or_else(|| Error::NotFound(format!("no feature {fid} in {id}")))?;
        offer_feature(o, layer, Lang::Fr, &state.config.website_url())
    };
    let base = format!("{}/ogc/collections/{id}", state.config.base_url(&headers));
    feature["links"] = json!([
        { "href": format!("{base}/items/{fid}"), "rel": "self", "type": "application/geo+json", "title": "This feature" },
        { "href": base, "rel": "collection", "type": "application/json", "title": id },
    ]);
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], feature.to_string()).into_response())
}

/// `GET /ogc/api`: the OpenAPI 3.0 description of this OGC API.
pub async fn openapi(State(state): State<Reads>, headers: HeaderMap) -> Response {
    let base = format!("{}/ogc", state.config.base_url(&headers));
    let param = |name: &str, schema: Value, desc: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": desc });
    let ok = |desc: &str, media: &str| json!({ "200": { "description": desc, "content": { media: { "schema": { "type": "object" } } } } });
    let collection_id = json!({ "name": "collectionId", "in": "path", "required": true, "schema": { "type": "string", "enum": ["offers", "footprints", "routes", "communes"] } });
    let doc = json!({
        "openapi": "3.0.3",
        "info": { "title": "La Porte du Hainaut: OGC API - Features", "version": "1.0.0", "description": "The tourist offer of La Porte du Hainaut as OGC API - Features" },
        "servers": [{ "url": base }],
        "paths": {
            "/": { "get": { "summary": "Landing page", "operationId": "getLandingPage", "responses": ok("Landing page", "application/json") } },
            "/conformance": { "get": { "summary": "Conformance classes", "operationId": "getConformance", "responses": ok("Conformance", "application/json") } },
            "/collections": { "get": { "summary": "Collections", "operationId": "getCollections", "responses": ok("Collections", "application/json") } },
            "/collections/{collectionId}": { "get": { "summary": "A collection", "operationId": "describeCollection", "parameters": [collection_id.clone()], "responses": ok("Collection", "application/json") } },
            "/collections/{collectionId}/items": { "get": {
                "summary": "Features of a collection", "operationId": "getFeatures",
                "parameters": [
                    collection_id.clone(),
                    param("bbox", json!({ "type": "array", "minItems": 4, "maxItems": 4, "items": { "type": "number" } }), "west,south,east,north (CRS84)"),
                    param("limit", json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 10 }), "page size"),
                    param("offset", json!({ "type": "integer", "minimum": 0, "default": 0 }), "items to skip"),
                    param("datetime", json!({ "type": "string" }), "events with an occurrence in this instant or interval"),
                    param("kind", json!({ "type": "string" }), "offer kind"),
                    param("theme", json!({ "type": "string" }), "theme code"),
                    param("commune", json!({ "type": "string" }), "INSEE code"),
                ],
                "responses": ok("Features", "application/geo+json"),
            } },
            "/collections/{collectionId}/items/{featureId}": { "get": {
                "summary": "One feature", "operationId": "getFeature",
                "parameters": [collection_id, { "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": ok("Feature", "application/geo+json"),
            } },
        },
    });
    ([(header::CONTENT_TYPE, "application/vnd.oai.openapi+json;version=3.0")], doc.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).ok()
    }

    #[test]
    fn datetime_reads_instants_days_and_intervals() {
        let ok = |v: &str| datetime(v).map_err(|e| e.to_string());
        assert_eq!(ok("2026-07-14T10:00:00+02:00"), Ok((at("2026-07-14T08:00:00Z"), at("2026-07-14T08:00:00Z"))));
        // A date is its whole day.
        assert_eq!(ok("2026-07-14"), Ok((at("2026-07-14T00:00:00Z"), at("2026-07-14T23:59:59.999999999Z"))));
        assert_eq!(ok("2026-07-01/2026-07-14"), Ok((at("2026-07-01T00:00:00Z"), at("2026-07-14T23:59:59.999999999Z"))));
        assert_eq!(ok("2026-07-14/2026-07-14"), ok("2026-07-14"));
        assert_eq!(ok("../2026-07-14T12:00:00Z"), Ok((None, at("2026-07-14T12:00:00Z"))));
        assert_eq!(ok("2026-07-14T12:00:00Z/.."), Ok((at("2026-07-14T12:00:00Z"), None)));
        assert_eq!(ok("2026-07-14T12:00:00Z/"), Ok((at("2026-07-14T12:00:00Z"), None)));
        assert_eq!(ok("../.."), Ok((None, None)));
        for bad in ["yesterday", "2026-13-01", "2026-07-14T25:00:00Z", "2026-07-14/soon", "2026-02-30"] {
            assert!(ok(bad).is_err_and(|e| e.contains("RFC 3339")), "{bad}");
        }
        for reversed in ["2026-07-15/2026-07-14", "2026-07-14T12:00:00Z/2026-07-14T11:59:59Z"] {
            assert!(ok(reversed).is_err_and(|e| e.contains("ends before it starts")), "{reversed}");
        }
    }
}
