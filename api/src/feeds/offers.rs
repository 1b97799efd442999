//! Partner feeds of the published offer: GeoJSON, schema.org JSON-LD and iCalendar events.
//! Every feed takes `since`, `theme`, `kind`, `commune`, `bbox`, `limit`/`offset` (with a
//! `Link: rel="next"`), answers `ETag` and `Last-Modified`, and honours conditional requests.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, OfferRecord};
use crate::error::{Error, Result};
use crate::http_cache::not_modified;
use crate::lang::Lang;
use crate::layers::parse_bbox;
use crate::offers::types::OfferKind;
use crate::state::AppState;

/// Query string of the feeds.
#[derive(Debug, Default, Deserialize)]
pub struct FeedParams {
    /// Offers changed at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Theme codes, comma-separated.
    pub theme: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// INSEE codes, comma-separated.
    pub commune: Option<String>,
    /// `west,south,east,north`.
    pub bbox: Option<String>,
    /// Page size (default 1000, at most 5000).
    pub limit: Option<usize>,
    /// Items to skip.
    pub offset: Option<usize>,
    /// Events with an occurrence ending at or after this instant (iCalendar).
    pub from: Option<String>,
    /// Events with an occurrence starting at or before this instant (iCalendar).
    pub to: Option<String>,
}

fn instant(field: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    v.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|_| {
                Error::BadUserInput(format!("{field} {s:?} is not an RFC 3339 date-time (e.g. 2026-01-01T00:00:00Z)"))
            })
        })
        .transpose()
}

fn list(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The selected offers, in a stable order (last change, then id), and the page asked for.
struct Selection {
    items: Vec<usize>,
    total: usize,
    offset: usize,
    last_modified: DateTime<Utc>,
}

fn select(catalog: &Catalog, p: &FeedParams, events_only: bool) -> Result<Selection> {
    let since = instant("since", &p.since)?;
    let from = instant("from", &p.from)?;
    let to = instant("to", &p.to)?;
    let kinds = list(&p.kind);
    for k in &kinds {
        if OfferKind::from_code(k).is_none() {
            return Err(Error::BadUserInput(format!("kind {k:?} does not exist")));
        }
    }
    let themes = list(&p.theme);
    for t in &themes {
        if catalog.theme(t).is_none() {
            return Err(Error::BadUserInput(format!("theme {t:?} does not exist")));
        }
    }
    let communes = list(&p.commune);
    let bbox = p.bbox.as_deref().map(parse_bbox).transpose()?;
    let limit = p.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(Error::BadUserInput("limit must be between 1 and 5000".into()));
    }
    let mut items: Vec<usize> = (0..catalog.offers.len())
        .filter(|&i| {
            let o = &catalog.offers[i];
            (!events_only || !o.occurrences.is_empty())
                && since.is_none_or(|s| o.updated_at >= s)
                && (kinds.is_empty() || kinds.contains(&o.kind))
                && (themes.is_empty() || o.themes.iter().any(|t| themes.contains(t)))
                && (communes.is_empty() || o.commune.as_ref().is_some_and(|c| communes.contains(c)))
                && bbox
                    .is_none_or(|[w, s, e, n]| o.point[0] >= w && o.point[0] <= e && o.point[1] >= s && o.point[1] <= n)
                && (from.is_none() && to.is_none()
                    || o.occurrences.iter().any(|x| from.is_none_or(|f| x.end >= f) && to.is_none_or(|t| x.start <= t)))
        })
        .collect();
    items.sort_by(|a, b| {
        let (x, y) = (&catalog.offers[*a], &catalog.offers[*b]);
        x.updated_at.cmp(&y.updated_at).then_with(|| x.id.cmp(&y.id))
    });
    let total = items.len();
    let last_modified = items.iter().map(|&i| catalog.offers[i].updated_at).max().unwrap_or(catalog.built_at);
    let offset = p.offset.unwrap_or(0).min(total);
    let page = items.into_iter().skip(offset).take(limit).collect();
    Ok(Selection { items: page, total, offset, last_modified })
}

fn next_link(base: &str, path: &str, query: &Option<String>, s: &Selection) -> Option<String> {
    if s.offset + s.items.len() >= s.total {
        return None;
    }
    let kept: Vec<&str> =
        query.as_deref().unwrap_or("").split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("offset=")).collect();
    let mut q = kept.join("&");
    if !q.is_empty() {
        q.push('&');
    }
    Some(format!("{base}{path}?{q}offset={}", s.offset + s.items.len()))
}

/// What every feed starts from: the snapshot, the selection and the links.
struct Page {
    catalog: std::sync::Arc<Catalog>,
    s: Selection,
    website: String,
    base: String,
    next: Option<String>,
}

impl Page {
    fn new(
        state: &AppState,
        p: &FeedParams,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        path: &str,
        events: bool,
    ) -> Result<Page> {
        let catalog = state.catalog.get();
        let s = select(&catalog, p, events)?;
        let base = state.config.base_url(headers);
        let next = next_link(&base, path, &uri.query().map(str::to_owned), &s);
        Ok(Page { catalog, s, website: state.config.website_url(), base, next })
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Answers with a body, `ETag`, `Last-Modified` and the next page's link, or 304.
fn answer(
    headers: &HeaderMap,
    body: Vec<u8>,
    content_type: &'static str,
    modified: DateTime<Utc>,
    next: Option<String>,
) -> Response {
    let etag = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        format!("\"{}\"", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>())
    };
    let etag_match = not_modified(headers, &etag);
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok());
    let not_modified = etag_match
        || (headers.get(header::IF_NONE_MATCH).is_none()
            && since.is_some_and(|s| modified.timestamp() <= s.timestamp()));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    if let Some(link) = next.and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok()) {
        h.insert(header::LINK, link);
    }
    r
}

fn name(o: &OfferRecord) -> String {
    o.name.get(Lang::Fr).map(|(t, _)| t.to_owned()).unwrap_or_default()
}

fn texts_json(t: &crate::catalog::Texts) -> Value {
    let mut m = Map::new();
    for l in Lang::ALL {
        if let Some(s) = t.exact(l) {
            m.insert(l.code().to_owned(), json!(s));
        }
    }
    Value::Object(m)
}

/// `GET /feeds/offers.geojson`.
pub async fn geojson(
    State(state): State<AppState>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let Page { catalog, s, website, next, .. } = Page::new(&state, &p, &uri, &headers, "/feeds/offers.geojson", false)?;
    let features: Vec<Value> = s
        .items
        .iter()
        .map(|&i| {
            let o = &catalog.offers[i];
            json!({
                "type": "Feature",
                "id": o.id,
                "geometry": { "type": "Point", "coordinates": [seed::geometry::round6(o.point[0]), seed::geometry::round6(o.point[1])] },
                "properties": {
                    "id": o.id, "slug": o.slug, "kind": o.kind, "classes": o.classes, "themes": o.themes, "isTotem": o.is_totem,
                    "name": texts_json(&o.name), "shortDescription": texts_json(&o.short_description),
                    "description": texts_json(&o.description), "commune": o.commune, "inTerritory": o.in_territory,
                    "address": o.address, "contacts": o.contacts, "openingHours": o.opening_hours, "labels": o.labels,
                    "capacity": o.capacity, "geoPrecision": o.geo_precision, "footprint": o.geometry_json(),
                    "occurrences": o.occurrences.iter().map(|x| json!({ "start": x.start, "end": x.end })).collect::<Vec<_>>(),
                    "url": format!("{website}/offres/{}", o.slug), "version": o.version, "updatedAt": o.updated_at,
                    "source": { "name": o.provenance.source, "id": o.provenance.source_id, "licence": o.provenance.licence, "attribution": o.provenance.attribution },
                },
            })
        })
        .collect();
    let mut doc = json!({ "type": "FeatureCollection", "features": features, "numberMatched": s.total, "numberReturned": s.items.len() });
    if let Some(n) = &next {
        doc["links"] = json!([{ "rel": "next", "href": n, "type": "application/geo+json" }]);
    }
    Ok(answer(&headers, serde_json::to_vec(&doc).unwrap_or_default(), "application/geo+json", s.last_modified, next))
}

fn schema_type(o: &OfferRecord) -> &'static str {
    match o.kind.as_str() {
        "accommodation" => "LodgingBusiness",
        "restaurant" => "FoodEstablishment",
        "event" => "Event",
        "route" => "TouristTrip",
        "activity" | "service" => "LocalBusiness",
        _ => "TouristAttraction",
    }
}

/// `GET /feeds/offers.jsonld`: schema.org in JSON-LD, with an inline context (no remote fetch).
pub async fn jsonld(
    State(state): State<AppState>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let Page { catalog, s, website, base, next } =
        Page::new(&state, &p, &uri, &headers, "/feeds/offers.jsonld", false)?;
    let lang_values = |t: &crate::catalog::Texts| -> Value {
        Value::Array(
            Lang::ALL
                .iter()
                .filter_map(|l| t.exact(*l).map(|v| json!({ "@value": v, "@language": l.code() })))
                .collect(),
        )
    };
    let graph: Vec<Value> = s
        .items
        .iter()
        .map(|&i| {
            let o = &catalog.offers[i];
            let page = format!("{website}/offres/{}", o.slug);
            let mut item = json!({
                "@id": format!("{base}/offers/{}", o.id),
                "@type": schema_type(o),
                "identifier": o.id,
                "name": lang_values(&o.name),
                "description": lang_values(&o.short_description),
                "url": page,
                "geo": { "@type": "GeoCoordinates", "latitude": o.point[1], "longitude": o.point[0] },
                "dateModified": o.updated_at.to_rfc3339(),
                "keywords": o.themes.join(","),
            });
            if let Some(a) = &o.address {
                item["address"] = json!({
                    "@type": "PostalAddress",
                    "streetAddress": a.get("street"), "postalCode": a.get("postalCode"), "addressLocality": a.get("locality"),
                    "addressCountry": "FR",
                });
            }
            if let Some(c) = &o.contacts {
                item["telephone"] = c.get("phones").cloned().unwrap_or(Value::Null);
                item["email"] = c.get("emails").cloned().unwrap_or(Value::Null);
                item["sameAs"] = c.get("websites").cloned().unwrap_or(Value::Null);
            }
            if let Some(h) = &o.opening_hours
                && o.kind != "event" {
                    item["openingHours"] = json!(h);
                }
            if !o.media.is_empty() {
                item["image"] = Value::Array(
                    o.media
                        .iter()
                        .filter(|m| m.kind == "image")
                        .map(|m| json!({ "@type": "ImageObject", "contentUrl": m.url, "license": m.licence, "creditText": m.credit }))
                        .collect(),
                );
            }
            if o.kind == "event" {
                if let (Some(first), Some(last)) = (o.occurrences.first(), o.occurrences.last()) {
                    item["startDate"] = json!(first.start.to_rfc3339());
                    item["endDate"] = json!(last.end.to_rfc3339());
                }
                item["location"] = json!({ "@type": "Place", "geo": item["geo"].clone(), "address": item.get("address").cloned() });
            }
            if let Some(r) = &o.route {
                item["itinerary"] = json!({
                    "@type": "ItemList",
                    "itemListElement": r.stages.iter().enumerate().map(|(n, &st)| json!({
                        "@type": "ListItem", "position": n + 1,
                        "item": { "@id": format!("{base}/offers/{}", catalog.offers[st].id), "name": name(&catalog.offers[st]) }
                    })).collect::<Vec<_>>(),
                });
            }
            if o.kind == "accommodation"
                && let Some(beds) = o.capacity.as_ref().and_then(|c| c.get("beds")) {
                    item["numberOfBeds"] = beds.clone();
                }
            item["isBasedOn"] = json!({ "@type": "Dataset", "name": o.provenance.source, "license": o.provenance.licence, "creditText": o.provenance.attribution });
            item
        })
        .collect();
    // An inline context: processors expand it without fetching anything.
    let doc = json!({ "@context": { "@vocab": "https://schema.org/" }, "@graph": graph });
    Ok(answer(&headers, serde_json::to_vec(&doc).unwrap_or_default(), "application/ld+json", s.last_modified, next))
}

/// `GET /feeds/events.ics`: one VEVENT per occurrence, times in UTC.
pub async fn ics(
    State(state): State<AppState>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let Page { catalog, s, website, next, .. } = Page::new(&state, &p, &uri, &headers, "/feeds/events.ics", true)?;
    let from = instant("from", &p.from)?;
    let to = instant("to", &p.to)?;
    let mut cal = Calendar::new();
    cal.name("La Porte du Hainaut — événements");
    cal.append_property(icalendar::Property::new("PRODID", "-//La Porte du Hainaut//offer API//FR"));
    for &i in &s.items {
        let o = &catalog.offers[i];
        let location = o
            .address
            .as_ref()
            .map(|a| {
                [a.get("street"), a.get("postalCode"), a.get("locality")]
                    .iter()
                    .filter_map(|v| v.and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty());
        for occ in o.occurrences.iter().filter(|x| from.is_none_or(|f| x.end >= f) && to.is_none_or(|t| x.start <= t)) {
            let mut e = Event::new();
            e.uid(&format!("{}-{}@porte-du-hainaut", o.id, occ.start.timestamp()))
                .timestamp(o.updated_at)
                .last_modified(o.updated_at)
                .summary(&name(o))
                .starts(occ.start)
                .ends(occ.end)
                .url(&format!("{website}/offres/{}", o.slug))
                .add_property("GEO", format!("{:.6};{:.6}", o.point[1], o.point[0]));
            if let Some(d) = o.short_description.get(Lang::Fr) {
                e.description(d.0);
            }
            if let Some(l) = &location {
                e.location(l);
            }
            cal.push(e.done());
        }
    }
    let text = cal.done().to_string();
    Ok(answer(&headers, text.into_bytes(), "text/calendar; charset=utf-8", s.last_modified, next))
}
