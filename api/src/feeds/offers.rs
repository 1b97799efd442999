//! Partner feeds of the published offer: GeoJSON, schema.org JSON-LD and iCalendar events.
//! Every feed takes `since`, `theme`, `kind`, `commune`, `bbox`, `limit`/`offset` (with a
//! `Link: rel="next"`), answers `ETag` and `Last-Modified`, and honours conditional requests.

use crate::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use entities::domain::text::printable;
use icalendar::{Calendar, Component, Event, EventLike};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use std::sync::Arc;

use entities::domain::geometry::round6;
use entities::vocab::OfferKind;

use crate::catalog::{Catalog, OfferRecord, point_inside};
use crate::error::{Error, Result};
use crate::http_cache::{Built, CacheKey, CacheKind, Coding, conditional, known};
use crate::lang::Lang;
use crate::layers::parse_bbox;
use crate::state::Reads;

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

/// A comma list, sorted and without repeats.
fn list(v: &Option<String>) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    items.sort();
    items.dedup();
    items
}

/// The checked parameters of a feed request.
#[derive(Debug, Clone)]
struct Checked {
    since: Option<DateTime<Utc>>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    kinds: Vec<OfferKind>,
    themes: Vec<String>,
    communes: Vec<String>,
    bbox: Option<[f64; 4]>,
    limit: usize,
    offset: usize,
}

impl Checked {
    fn parse(catalog: &Catalog, p: &FeedParams) -> Result<Checked> {
        let kinds = list(&p.kind)
            .iter()
            .map(|k| OfferKind::from_code(k).ok_or_else(|| Error::BadUserInput(format!("kind {k:?} does not exist"))))
            .collect::<Result<Vec<_>>>()?;
        let themes = list(&p.theme);
        for t in &themes {
            if catalog.theme(t).is_none() {
                return Err(Error::BadUserInput(format!("theme {t:?} does not exist")));
            }
        }
        let communes = list(&p.commune);
        for c in &communes {
            if catalog.commune(c).is_none() {
                return Err(Error::BadUserInput(format!("commune {c:?} is not a commune of the territory")));
            }
        }
        let limit = p.limit.unwrap_or(1000);
        if !(1..=5000).contains(&limit) {
            return Err(Error::BadUserInput("limit must be between 1 and 5000".into()));
        }
        let (from, to) = (instant("from", &p.from)?, instant("to", &p.to)?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Error::BadUserInput("from must not be after to".into()));
        }
        Ok(Checked {
            since: instant("since", &p.since)?,
            from,
            to,
            kinds,
            themes,
            communes,
            bbox: p.bbox.as_deref().map(parse_bbox).transpose()?,
            limit,
            offset: p.offset.unwrap_or(0),
        })
    }

    /// The canonical form of the request, for cache keys.
    fn key(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.code()).collect();
        format!(
            "{:?}|{:?}|{:?}|{}|{}|{}|{:?}|{}|{}",
            self.since.map(|t| t.timestamp()),
            self.from.map(|t| t.timestamp()),
            self.to.map(|t| t.timestamp()),
            kinds.join(","),
            self.themes.join(","),
            self.communes.join(","),
            self.bbox,
            self.limit,
            self.offset
        )
    }
}

/// The selected offers, in a stable order (last change, then id), and the page asked for.
struct Selection {
    items: Vec<Arc<OfferRecord>>,
    total: usize,
    offset: usize,
    last_modified: DateTime<Utc>,
}

fn select(catalog: &Catalog, c: &Checked, events_only: bool) -> Selection {
    let mut items: Vec<&Arc<OfferRecord>> = catalog
        .by_name()
        .filter(|o| {
            (!events_only || !o.occurrences.is_empty())
                && c.since.is_none_or(|s| o.updated_at >= s)
                && (c.kinds.is_empty() || c.kinds.contains(&o.kind))
                && (c.themes.is_empty() || o.themes.iter().any(|t| c.themes.iter().any(|q| **q == **t)))
                && (c.communes.is_empty() || o.commune.as_deref().is_some_and(|x| c.communes.iter().any(|q| q == x)))
                && c.bbox.is_none_or(|b| point_inside(o.point, b))
                && (c.from.is_none() && c.to.is_none()
                    || o.occurrences
                        .iter()
                        .any(|x| c.from.is_none_or(|f| x.end >= f) && c.to.is_none_or(|t| x.start <= t)))
        })
        .collect();
    items.sort_by(|x, y| x.updated_at.cmp(&y.updated_at).then_with(|| x.id.cmp(&y.id)));
    let total = items.len();
    let last_modified = items.iter().map(|o| o.updated_at).max().unwrap_or(catalog.built_at);
    let offset = c.offset.min(total);
    let page = items.into_iter().skip(offset).take(c.limit).cloned().collect();
    Selection { items: page, total, offset, last_modified }
}

fn next_link(base: &str, path: &str, query: Option<&str>, s: &Selection) -> Option<String> {
    if s.offset + s.items.len() >= s.total {
        return None;
    }
    let kept: Vec<&str> =
        query.unwrap_or("").split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("offset=")).collect();
    let mut q = kept.join("&");
    if !q.is_empty() {
        q.push('&');
    }
    Some(format!("{base}{path}?{q}offset={}", s.offset + s.items.len()))
}

/// Which feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    GeoJson,
    JsonLd,
    Ics,
}

impl Feed {
    fn path(self) -> &'static str {
        match self {
            Feed::GeoJson => "/feeds/offers.geojson",
            Feed::JsonLd => "/feeds/offers.jsonld",
            Feed::Ics => "/feeds/events.ics",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Feed::GeoJson => "application/geo+json",
            Feed::JsonLd => "application/ld+json",
            Feed::Ics => "text/calendar; charset=utf-8",
        }
    }
}

/// What an encoder of a feed gets.
struct Page {
    catalog: Arc<Catalog>,
    s: Selection,
    c: Checked,
    website: String,
    base: String,
    next: Option<String>,
}

/// Serves a feed from the cache (keyed by its parameters and the version of the last change of
/// what it holds), building it when missing; a client that has it gets a 304 before anything
/// is built.
async fn serve(
    state: &Reads,
    p: &FeedParams,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    feed: Feed,
    encode: fn(&Page) -> Vec<u8>,
) -> Result<Response> {
    let catalog = state.catalog.get();
    let c = Checked::parse(&catalog, p)?;
    let base = state.config.base_url(headers);
    let epoch = if feed == Feed::Ics { catalog.epochs.layers.events } else { catalog.epochs.layers.offers };
    let query = uri.query().map(str::to_owned);
    let key = CacheKey::new(
        CacheKind::Feed,
        epoch,
        format!("{}|{}|{}|{}", feed.path(), c.key(), base, query.as_deref().unwrap_or("")),
    );
    if let Some(r) = known(headers, &key, CACHE_CONTROL) {
        return Ok(r);
    }
    let website = state.config.website_url();
    let coding = Coding::negotiate(headers);
    let cached = state
        .cache
        .get_or_build(key, coding, move || {
            let s = select(&catalog, &c, feed == Feed::Ics);
            let next = next_link(&base, feed.path(), query.as_deref(), &s);
            let last_modified = s.last_modified;
            let page = Page { catalog, s, c, website, base, next: next.clone() };
            Built { body: encode(&page), last_modified: Some(last_modified), next }
        })
        .await?;
    Ok(conditional(headers, &cached, coding, feed.content_type(), CACHE_CONTROL).await)
}

const CACHE_CONTROL: &str = "public, max-age=60";

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
    State(state): State<Reads>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    serve(&state, &p, &uri, &headers, Feed::GeoJson, encode_geojson).await
}

fn encode_geojson(page: &Page) -> Vec<u8> {
    let Page { s, website, .. } = page;
    let features: Vec<Value> = s
        .items
        .iter()
        .map(|o| {
            json!({
                "type": "Feature",
                "id": o.id_string(),
                "geometry": { "type": "Point", "coordinates": [round6(o.point[0]), round6(o.point[1])] },
                "properties": {
                    "id": o.id_string(), "slug": &*o.slug, "kind": o.kind.code(), "classes": o.classes, "themes": o.themes,
                    "isTotem": o.is_totem, "name": texts_json(&o.name), "shortDescription": texts_json(&o.short_description),
                    "description": texts_json(&o.description), "commune": o.commune.as_deref(), "inTerritory": o.in_territory,
                    "address": o.address, "contacts": o.contacts, "openingHours": o.opening_hours.as_deref(), "labels": o.labels,
                    "capacity": o.capacity, "classification": o.classification, "prices": o.prices, "geoPrecision": o.geo_precision.code(), "footprint": o.geometry_json(),
                    "occurrences": o.occurrences.iter().map(|x| json!({ "start": x.start, "end": x.end })).collect::<Vec<_>>(),
                    "url": format!("{website}/offres/{}", o.slug), "version": o.version, "updatedAt": o.updated_at,
                    "source": { "name": &*o.provenance.source, "id": &*o.provenance.source_id, "licence": &*o.provenance.licence, "attribution": &*o.provenance.attribution },
                },
            })
        })
        .collect();
    let mut doc = json!({ "type": "FeatureCollection", "features": features, "numberMatched": s.total, "numberReturned": s.items.len() });
    if let Some(n) = &page.next {
        doc["links"] = json!([{ "rel": "next", "href": n, "type": "application/geo+json" }]);
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn schema_type(o: &OfferRecord) -> &'static str {
    match o.kind {
        OfferKind::Accommodation => "LodgingBusiness",
        OfferKind::Restaurant => "FoodEstablishment",
        OfferKind::Event => "Event",
        OfferKind::Route => "TouristTrip",
        OfferKind::Activity | OfferKind::Service => "LocalBusiness",
        OfferKind::Site => "TouristAttraction",
    }
}

/// `GET /feeds/offers.jsonld`: schema.org in JSON-LD, with an inline context (no remote fetch).
pub async fn jsonld(
    State(state): State<Reads>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    serve(&state, &p, &uri, &headers, Feed::JsonLd, encode_jsonld).await
}

fn encode_jsonld(page: &Page) -> Vec<u8> {
    let Page { catalog, s, website, base, .. } = page;
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
        .map(|o| {
            let page = format!("{website}/offres/{}", o.slug);
            let mut item = json!({
                "@id": format!("{base}/offers/{}", o.id),
                "@type": schema_type(o),
                "identifier": o.id_string(),
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
                    "streetAddress": a.street, "postalCode": a.postal_code, "addressLocality": a.locality,
                    "addressCountry": "FR",
                });
            }
            if let Some(c) = &o.contacts {
                item["telephone"] = json!(c.phones);
                item["email"] = json!(c.emails);
                item["sameAs"] = json!(c.websites);
            }
            if let Some(h) = &o.opening_hours
                && o.kind != OfferKind::Event
            {
                item["openingHours"] = json!(&**h);
            }
            let images: Vec<Value> = o
                .media
                .iter()
                .filter(|m| m.kind == entities::vocab::MediaKind::Image)
                .map(|m| json!({ "@type": "ImageObject", "contentUrl": &*m.url, "license": m.licence.as_deref(), "creditText": m.credit.as_deref() }))
                .collect();
            if !images.is_empty() {
                item["image"] = Value::Array(images);
            }
            if o.kind == OfferKind::Event {
                if let (Some(first), Some(last)) = (o.occurrences.first(), o.occurrences.last()) {
                    item["startDate"] = json!(first.start.to_rfc3339());
                    item["endDate"] = json!(last.end.to_rfc3339());
                }
                item["location"] = json!({ "@type": "Place", "geo": item["geo"].clone(), "address": item.get("address").cloned() });
            }
            if o.route.is_some() {
                item["itinerary"] = json!({
                    "@type": "ItemList",
                    "itemListElement": catalog.stages_of(o).enumerate().map(|(n, st)| json!({
                        "@type": "ListItem", "position": n + 1,
                        "item": { "@id": format!("{base}/offers/{}", st.id), "name": name(st) }
                    })).collect::<Vec<_>>(),
                });
            }
            if o.kind == OfferKind::Accommodation
                && let Some(beds) = o.capacity.as_ref().and_then(|c| c.beds)
            {
                item["numberOfBeds"] = json!(beds);
            }
            if let Some(c) = o.classification.as_deref() {
                // The official rating: Atout France's classification.
                let mut rating = json!({
                    "@type": "Rating", "name": &c.label, "author": { "@type": "Organization", "name": "Atout France" },
                });
                if let Some(stars) = c.stars {
                    rating["ratingValue"] = json!(stars);
                    rating["bestRating"] = json!(5);
                }
                item["starRating"] = rating;
            }
            item["isBasedOn"] = json!({ "@type": "Dataset", "name": &*o.provenance.source, "license": &*o.provenance.licence, "creditText": &*o.provenance.attribution });
            item
        })
        .collect();
    // An inline context: processors expand it without fetching anything.
    let doc = json!({ "@context": { "@vocab": "https://schema.org/" }, "@graph": graph });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// `GET /feeds/events.ics`: one VEVENT per occurrence, times in UTC.
pub async fn ics(
    State(state): State<Reads>,
    Query(p): Query<FeedParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response> {
    serve(&state, &p, &uri, &headers, Feed::Ics, encode_ics).await
}

fn encode_ics(page: &Page) -> Vec<u8> {
    let Page { s, website, c, .. } = page;
    let mut cal = Calendar::new();
    cal.name("La Porte du Hainaut — événements");
    cal.append_property(icalendar::Property::new("PRODID", "-//La Porte du Hainaut//offer API//FR"));
    for o in &s.items {
        let location = o
            .address
            .as_ref()
            .map(|a| {
                [&a.street, &a.postal_code, &a.locality]
                    .iter()
                    .filter_map(|v| v.as_deref())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty());
        for occ in
            o.occurrences.iter().filter(|x| c.from.is_none_or(|f| x.end >= f) && c.to.is_none_or(|t| x.start <= t))
        {
            let mut e = Event::new();
            e.uid(&format!("{}-{}@porte-du-hainaut", o.id, occ.start.timestamp()))
                .timestamp(o.updated_at)
                .last_modified(o.updated_at)
                .summary(&printable(&name(o), false))
                .starts(occ.start)
                .ends(occ.end)
                .url(&format!("{website}/offres/{}", o.slug))
                .add_property("GEO", format!("{:.6};{:.6}", o.point[1], o.point[0]));
            if let Some(d) = o.short_description.get(Lang::Fr) {
                e.description(&printable(d.0, true));
            }
            if let Some(l) = &location {
                e.location(&printable(l, false));
            }
            cal.push(e.done());
        }
    }
    cal.done().to_string().into_bytes()
}
