//! GeoJSON layers (RFC 7946): `GET /layers` lists them, `GET /layers/{layer}.geojson` serves one
//! as a FeatureCollection, filterable by `bbox`, `kind`, `theme`, `commune` and `lang`.

use crate::extract::Query;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use entities::domain::geometry::round6;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use entities::vocab::OfferKind;

use crate::catalog::{Catalog, OfferRecord, point_inside};
use crate::error::{Error, Result};
use crate::http_cache::{CacheKey, CacheKind, Coding, conditional, known};
use crate::lang::Lang;
use crate::state::Reads;
use crate::tiles::{Layer, parse_lang};

/// Filters of a layer request, as they come in the query string.
#[derive(Debug, Default, Deserialize)]
pub struct LayerParams {
    /// `west,south,east,north`: features whose bounding box meets it.
    pub bbox: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// Theme codes, comma-separated.
    pub theme: Option<String>,
    /// INSEE codes, comma-separated.
    pub commune: Option<String>,
    /// Language of the names.
    pub lang: Option<String>,
    /// Also offers outside the territory.
    #[serde(default)]
    pub outside: bool,
}

/// Checked filters.
#[derive(Debug, Clone, Default)]
pub struct LayerFilter {
    bbox: Option<[f64; 4]>,
    kinds: Vec<OfferKind>,
    themes: Vec<String>,
    communes: Vec<String>,
    lang: Lang,
    outside: bool,
}

/// A comma list, sorted and without repeats: once checked, its canonical form is bounded by the
/// vocabulary, whatever the client sent.
fn list(v: &Option<String>) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    items.sort();
    items.dedup();
    items
}

/// Reads `west,south,east,north`.
pub fn parse_bbox(text: &str) -> Result<[f64; 4]> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::BadUserInput(format!("bbox {text:?}: give west,south,east,north in degrees")))?;
    let [w, s, e, n] = parts[..] else {
        return Err(Error::BadUserInput(format!("bbox {text:?}: give four numbers west,south,east,north")));
    };
    let ok = [w, s, e, n].iter().all(|v| v.is_finite())
        && (-180.0..=180.0).contains(&w)
        && (-180.0..=180.0).contains(&e)
        && (-90.0..=90.0).contains(&s)
        && (-90.0..=90.0).contains(&n)
        && w <= e
        && s <= n;
    if !ok {
        return Err(Error::BadUserInput(format!("bbox {text:?}: out of range or west > east or south > north")));
    }
    Ok([w, s, e, n])
}

impl LayerFilter {
    /// Checks the query string against the catalog.
    pub fn parse(p: &LayerParams, catalog: &Catalog) -> Result<LayerFilter> {
        let kinds = list(&p.kind)
            .iter()
            .map(|k| {
                OfferKind::from_code(k).ok_or_else(|| {
                    Error::BadUserInput(format!(
                        "kind {k:?}: use site, accommodation, event, route, restaurant, activity or service"
                    ))
                })
            })
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
                return Err(Error::BadUserInput(format!(
                    "commune {c:?} is not the INSEE code of a commune of the territory"
                )));
            }
        }
        Ok(LayerFilter {
            bbox: p.bbox.as_deref().map(parse_bbox).transpose()?,
            kinds,
            themes,
            communes,
            lang: parse_lang(p.lang.as_deref())?,
            outside: p.outside,
        })
    }

    fn key(&self) -> String {
        format!(
            "{:?}|{}|{}|{}|{}|{}",
            self.bbox,
            self.kinds.iter().map(|k| k.code()).collect::<Vec<_>>().join(","),
            self.themes.join(","),
            self.communes.join(","),
            self.lang.code(),
            self.outside
        )
    }

    fn keeps(&self, o: &OfferRecord) -> bool {
        (self.outside || o.in_territory)
            && (self.kinds.is_empty() || self.kinds.contains(&o.kind))
            && (self.themes.is_empty() || o.themes.iter().any(|t| self.themes.iter().any(|q| **q == **t)))
            && (self.communes.is_empty() || o.commune.as_deref().is_some_and(|c| self.communes.iter().any(|q| q == c)))
    }
}

/// One offer as a GeoJSON Feature of a layer.
pub fn offer_feature(o: &OfferRecord, layer: Layer, lang: Lang, website: &str) -> Value {
    let geometry = match layer {
        Layer::Offers => {
            json!({ "type": "Point", "coordinates": [round6(o.point[0]), round6(o.point[1])] })
        }
        _ => o.geometry_json().unwrap_or(Value::Null),
    };
    let (name, name_lang) = o.name.get(lang).unwrap_or(("", Lang::Fr));
    let mut props = Map::new();
    props.insert("id".into(), json!(o.id_string()));
    props.insert("slug".into(), json!(&*o.slug));
    props.insert("name".into(), json!(name));
    props.insert("nameLang".into(), json!(name_lang.code()));
    props.insert("kind".into(), json!(o.kind.code()));
    props.insert("themes".into(), json!(o.themes));
    props.insert("isTotem".into(), json!(o.is_totem));
    props.insert("url".into(), json!(format!("{website}/offres/{}", o.slug)));
    props.insert("commune".into(), json!(o.commune.as_deref()));
    props.insert("geoPrecision".into(), json!(o.geo_precision.code()));
    if let Some(r) = &o.route {
        props.insert("lengthMeters".into(), json!(r.length_meters));
        props.insert("practices".into(), json!(r.practices));
        props.insert("linePrecision".into(), json!(r.line_precision.code()));
    }
    json!({ "type": "Feature", "id": o.id_string(), "geometry": geometry, "properties": props })
}

/// Builds a layer as a GeoJSON FeatureCollection, written feature by feature: a layer of
/// 100,000 offers never exists as one JSON tree in memory.
pub fn collection(catalog: &Catalog, layer: Layer, filter: &LayerFilter, website: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(br#"{"type":"FeatureCollection","features":["#);
    let mut first = true;
    let mut push = |feature: Value| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        // Writing a JSON value into a vector cannot fail.
        let _ = serde_json::to_writer(&mut out, &feature);
    };
    match layer {
        Layer::Communes => catalog
            .communes
            .iter()
            .filter(|c| filter.bbox.is_none_or(|b| c.meets(b)))
            .filter(|c| filter.communes.is_empty() || filter.communes.contains(&c.insee))
            .for_each(|c| {
                push(json!({
                    "type": "Feature",
                    "id": c.insee,
                    "geometry": c.geometry_json,
                    "properties": { "code": c.insee, "name": c.name, "population": c.population, "postcodes": c.postcodes },
                }))
            }),
        _ => {
            let candidates: Vec<&std::sync::Arc<OfferRecord>> = match filter.bbox {
                Some(b) => {
                    let mut v = catalog.intersecting(b);
                    v.sort_by(|a, b| a.sort_name.cmp(&b.sort_name).then(a.id.cmp(&b.id)));
                    v
                }
                None => catalog.by_name().collect(),
            };
            candidates
                .into_iter()
                .filter(|o| layer.holds(o) && filter.keeps(o))
                // A point layer keeps the points inside the box; the others the shapes that meet it.
                .filter(|o| {
                    filter.bbox.is_none_or(|b| if layer == Layer::Offers { point_inside(o.point, b) } else { o.meets(b) })
                })
                .for_each(|o| push(offer_feature(o, layer, filter.lang, website)))
        }
    }
    out.extend_from_slice(b"]}");
    out
}

/// `GET /layers`.
pub async fn index(State(state): State<Reads>, headers: HeaderMap) -> Json<Value> {
    let base = state.config.base_url(&headers);
    let catalog = state.catalog.get();
    let filter = LayerFilter::default();
    let layers: Vec<Value> = Layer::ALL
        .iter()
        .rev()
        .map(|l| {
            let count = match l {
                Layer::Communes => catalog.communes.len(),
                _ => catalog.by_name().filter(|o| l.holds(o) && filter.keeps(o)).count(),
            };
            json!({
                "name": l.name(),
                "description": l.description(),
                "features": count,
                "geojson": format!("{base}/layers/{}.geojson", l.name()),
                "tilejson": format!("{base}/tiles/{}.json", l.name()),
            })
        })
        .collect();
    Json(json!({ "layers": layers, "catalogVersion": catalog.version }))
}

/// `GET /layers/{layer}.geojson`.
pub async fn layer(
    State(state): State<Reads>,
    Path(file): Path<String>,
    Query(params): Query<LayerParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let name = file
        .strip_suffix(".geojson")
        .ok_or_else(|| Error::NotFound(format!("no layer file {file:?}: layers end in .geojson")))?;
    let layer = Layer::from_name(name).ok_or_else(|| {
        Error::NotFound(format!("no layer {name:?}: the layers are offers, footprints, routes, communes"))
    })?;
    let catalog = state.catalog.get();
    let filter = LayerFilter::parse(&params, &catalog)?;
    let epochs = catalog.epochs.layers;
    let epoch = match layer {
        Layer::Offers => epochs.offers,
        Layer::Footprints => epochs.footprints,
        Layer::Routes => epochs.routes,
        Layer::Communes => epochs.reference,
    };
    let key = CacheKey::new(CacheKind::Layer, epoch, format!("{}/{}", layer.name(), filter.key()));
    if let Some(r) = known(&headers, &key, "public, max-age=60") {
        return Ok(r);
    }
    let website = state.config.website_url();
    let coding = Coding::negotiate(&headers);
    let cached = state.cache.get_or_build(key, coding, move || collection(&catalog, layer, &filter, &website)).await?;
    Ok(conditional(&headers, &cached, coding, "application/geo+json", "public, max-age=60").await.into_response())
}
