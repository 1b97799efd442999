//! Vector tiles of the offer: `GET /tiles/{layers}/{z}/{x}/{y}.mvt` (MVT 2.1), TileJSON 3.0.0 at
//! `GET /tiles/{layers}.json`, and a MapLibre style at `GET /tiles/style.json`.

pub mod encode;
pub mod hot;
pub mod style;

use crate::extract::Query;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog::{Catalog, OfferRecord};
use crate::error::{Error, Result};
use crate::http_cache::{CacheKey, CacheKind, Coding, Cost, conditional, known};
use crate::lang::Lang;
use crate::state::Reads;
use encode::{MAX_ZOOM, TileCoord};

/// The layers of the map (names are part of the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Every published offer as a point.
    Offers,
    /// Offers whose place is an area or a line (cités, terrils, parks), routes aside.
    Footprints,
    /// Itineraries as lines.
    Routes,
    /// The communes as polygons.
    Communes,
}

impl Layer {
    /// Every layer, bottom to top.
    pub const ALL: [Layer; 4] = [Layer::Communes, Layer::Footprints, Layer::Routes, Layer::Offers];

    /// Its name in URLs and tiles.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Offers => "offers",
            Layer::Footprints => "footprints",
            Layer::Routes => "routes",
            Layer::Communes => "communes",
        }
    }

    /// Reads a layer name.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Reads a comma-separated list: unknown names are 404, repeats and empty lists 400.
    pub fn parse_list(list: &str) -> Result<Vec<Layer>> {
        let mut layers = Vec::new();
        for name in list.split(',') {
            let layer = Layer::from_name(name.trim()).ok_or_else(|| {
                Error::NotFound(format!("no layer {name:?}: the layers are offers, footprints, routes, communes"))
            })?;
            if layers.contains(&layer) {
                return Err(Error::BadUserInput(format!("layer {name:?} is listed twice")));
            }
            layers.push(layer);
        }
        Ok(layers)
    }

    /// Whether an offer belongs to this layer.
    pub fn holds(self, o: &OfferRecord) -> bool {
        match self {
            Layer::Offers => true,
            Layer::Routes => o.is_route(),
            Layer::Footprints => o.is_footprint(),
            Layer::Communes => false,
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        match self {
            Layer::Offers => "Every published offer as a point",
            Layer::Footprints => "Offers whose place is an area or a line: cités minières, terrils, parks",
            Layer::Routes => "Itineraries as lines",
            Layer::Communes => "The 47 communes of La Porte du Hainaut",
        }
    }

    /// Attribute names and types, as TileJSON's `vector_layers` lists them.
    pub fn fields(self) -> Value {
        match self {
            Layer::Communes => json!({ "code": "String", "name": "String", "population": "Number" }),
            _ => {
                let mut f = json!({
                    "id": "String", "slug": "String", "name": "String", "kind": "String", "themes": "String",
                    "theme": "String", "isTotem": "Boolean", "url": "String", "commune": "String"
                });
                if self == Layer::Routes {
                    f["lengthMeters"] = json!("Number");
                    f["practices"] = json!("String");
                }
                f
            }
        }
    }
}

/// Options of a tile or TileJSON request.
#[derive(Debug, Default, Deserialize)]
pub struct MapParams {
    /// Language of the names.
    pub lang: Option<String>,
    /// Also show offers outside the territory.
    #[serde(default)]
    pub outside: bool,
}

/// Reads `?lang=`.
pub fn parse_lang(lang: Option<&str>) -> Result<Lang> {
    match lang {
        None | Some("") => Ok(Lang::Fr),
        Some(code) => {
            Lang::from_code(code).ok_or_else(|| Error::BadUserInput(format!("lang {code:?}: use fr, en, nl or de")))
        }
    }
}

/// Bounds of the territory (west, south, east, north).
pub fn territory_bounds(catalog: &Catalog) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for c in catalog.communes.iter() {
        b = [b[0].min(c.bbox[0]), b[1].min(c.bbox[1]), b[2].max(c.bbox[2]), b[3].max(c.bbox[3])];
    }
    if catalog.communes.is_empty() { [-180.0, -85.0, 180.0, 85.0] } else { b }
}

/// The attribution of the data shown on maps.
pub fn attribution(catalog: &Catalog) -> String {
    let mut licences: Vec<String> = catalog
        .by_name()
        .map(|o| {
            if &*o.provenance.source == entities::domain::ids::CURATED_SOURCE {
                "Porte du Hainaut offer API (curated)".to_owned()
            } else {
                o.provenance.attribution.to_string()
            }
        })
        .collect();
    if !catalog.communes.is_empty() {
        licences.push("IGN Admin Express, INSEE COG (Licence Ouverte / Etalab 2.0)".to_owned());
    }
    licences.sort();
    licences.dedup();
    licences.join(" · ")
}

/// What a tile request asks for, checked.
#[derive(Debug, Clone)]
pub struct TileRequest {
    /// The layers, in the order asked.
    pub layers: Vec<Layer>,
    /// Which tile.
    pub coord: TileCoord,
    /// The language of the names.
    pub lang: Lang,
    /// Whether offers outside the territory are shown.
    pub outside: bool,
}

impl TileRequest {
    /// Reads the path's parameters (`y` with its `.mvt`) and the query's options.
    pub fn parse(layers: &str, z: &str, x: &str, y: &str, params: &MapParams) -> Result<TileRequest> {
        let layers = Layer::parse_list(layers)?;
        let y = y.strip_suffix(".mvt").ok_or_else(|| Error::NotFound("tiles end in .mvt".into()))?;
        let number = |v: &str, what: &str| {
            v.parse::<u32>().map_err(|_| Error::BadUserInput(format!("{what} {v:?} is not a tile number")))
        };
        let coord = TileCoord::new(number(z, "z")?, number(x, "x")?, number(y, "y")?).map_err(Error::BadUserInput)?;
        let lang = parse_lang(params.lang.as_deref())?;
        Ok(TileRequest { layers, coord, lang, outside: params.outside })
    }

    /// Its key in the response cache, by the last change that touched the tile: a change
    /// elsewhere leaves it cached.
    pub fn key(&self, catalog: &Catalog) -> CacheKey {
        let TileRequest { layers, coord, lang, outside } = self;
        // As `format!("{layers}/{z}/{x}/{y}/{lang}/{outside}")` would write it, without the
        // formatting machinery and in one allocation of the exact size (the key is built for
        // every hot tile): the pieces are listed once, measured, then written.
        let mut digits = [itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new()];
        let [z, x, y] = &mut digits;
        let numbers = [z.format(coord.z), x.format(coord.x), y.format(coord.y)];
        let pieces = || {
            let names = layers.iter().enumerate().flat_map(|(i, l)| [if i > 0 { "," } else { "" }, l.name()]);
            names.chain(numbers.iter().flat_map(|n| ["/", *n])).chain([
                "/",
                lang.code(),
                if *outside { "/true" } else { "/false" },
            ])
        };
        let mut params = String::with_capacity(pieces().map(str::len).sum());
        params.extend(pieces());
        CacheKey::new(CacheKind::Tile, catalog.epochs.tile(coord.z, coord.x, coord.y), params)
    }
}

/// How long a client or a shared cache may keep a tile.
pub const TILE_CACHE_CONTROL: &str = "public, max-age=60";
/// The media type of a tile.
pub const TILE_MEDIA_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// `GET /tiles/{layers}/{z}/{x}/{y}.mvt`. A tile already in this process's cache is usually
/// answered before the router by [`hot::Lane`].
pub async fn tile(
    State(state): State<Reads>,
    Path((layers, z, x, y)): Path<(String, String, String, String)>,
    Query(params): Query<MapParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let request = TileRequest::parse(&layers, &z, &x, &y, &params)?;
    let catalog = state.catalog.get();
    let key = request.key(&catalog);
    if let Some(r) = known(&headers, &key, TILE_CACHE_CONTROL) {
        return Ok(r);
    }
    let website = state.config.website_url();
    let coding = Coding::negotiate(&headers);
    let TileRequest { layers, coord, lang, outside } = request;
    let cached = state
        .cache
        .get_or_build_costing(key, coding, Cost::Like(coord.z), move || {
            encode::encode(&catalog, &layers, coord, lang, &website, outside)
        })
        .await?;
    Ok(conditional(&headers, &cached, coding, TILE_MEDIA_TYPE, TILE_CACHE_CONTROL).await)
}

/// `GET /tiles/{layers}.json`: TileJSON 3.0.0 (the route also serves `style.json`).
pub async fn tilejson(
    State(state): State<Reads>,
    Path(file): Path<String>,
    Query(params): Query<MapParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let list = file.strip_suffix(".json").ok_or_else(|| Error::NotFound("TileJSON documents end in .json".into()))?;
    let layers = Layer::parse_list(list)?;
    let lang = parse_lang(params.lang.as_deref())?;
    let catalog = state.catalog.get();
    let base = state.config.base_url(&headers);
    let [w, s, e, n] = territory_bounds(&catalog);
    let mut query = Vec::new();
    if lang != Lang::Fr {
        query.push(format!("lang={}", lang.code()));
    }
    if params.outside {
        query.push("outside=true".to_owned());
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    let names: Vec<&str> = layers.iter().map(|l| l.name()).collect();
    let doc = json!({
        "tilejson": "3.0.0",
        "name": format!("La Porte du Hainaut: {}", names.join(", ")),
        "description": "The tourist offer of La Porte du Hainaut",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{query}", names.join(","))],
        "vector_layers": layers.iter().map(|l| json!({
            "id": l.name(), "description": l.description(), "fields": l.fields(), "minzoom": 0, "maxzoom": MAX_ZOOM,
        })).collect::<Vec<_>>(),
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2.0, (s + n) / 2.0, 10],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "attribution": attribution(&catalog),
    });
    Ok(Json(doc).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_key_names_its_canonical_parameters() {
        let catalog = Catalog::default();
        let cases = [
            ("offers,routes", "14", "8347", "5529.mvt", None, false, "offers,routes/14/8347/5529/fr/false"),
            (" communes , offers", "0", "0", "0.mvt", Some("en"), true, "communes,offers/0/0/0/en/true"),
            ("footprints", "20", "1048575", "4294.mvt", Some("nl"), false, "footprints/20/1048575/4294/nl/false"),
        ];
        for (layers, z, x, y, lang, outside, params) in cases {
            let map = MapParams { lang: lang.map(str::to_owned), outside };
            let request = TileRequest::parse(layers, z, x, y, &map).expect("a valid tile");
            let key = request.key(&catalog);
            assert_eq!(&*key.params, params);
            assert_eq!(key.kind, CacheKind::Tile);
        }
    }
}
