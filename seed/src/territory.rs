//! The reference data of La Porte du Hainaut, read from the open-data files embedded in the
//! binary (`seed/data/`, see its README for sources and licences) plus the few records curated by
//! hand here: the five themes, the four totems that no open data places, and the routes.
//! Where a totem's place is known (the Bassin Rond, the Trouée d'Arenberg) it stands there with
//! the precision it has; the others stand at a point of their commune (`geoPrecision: COMMUNE`).
//!
//! Nothing here invents a fact: hand-placed positions say how precise they are, curated routes
//! say their line is schematic, and whatever no source gives (phones, dates, prices) stays empty.

use std::collections::{BTreeMap, HashMap};

use entities::domain::geometry::{self, GeometryError};
use entities::domain::slug::slugify;
use entities::values::{Address, Contacts, Texts};
use geo::{Distance, Euclidean, Geometry, Haversine, InterpolatableLine, LineString, Point};
use serde_json::Value;

const COMMUNES: &str = include_str!("../data/caph-communes.geojson");
const COMMUNES_MBM: &str = include_str!("../data/caph-communes-mbm.geojson");
const CENTROIDS: &str = include_str!("../data/caph-communes-centroids.geojson");
const POI: &str = include_str!("../data/caph-poi-seed.geojson");
const BATIS: &str = include_str!("../data/caph-unesco-batis.geojson");
const CITES: &str = include_str!("../data/caph-unesco-cites-minieres.geojson");
const TERRILS: &str = include_str!("../data/caph-unesco-terrils.geojson");
const NEONATUREL: &str = include_str!("../data/caph-unesco-espace-neonaturel.geojson");
const PERIMETRE: &str = include_str!("../data/caph-perimetre.geojson");

/// Source name of the records curated by this project.
pub use entities::domain::ids::CURATED_SOURCE;
/// Source name of the POI seed file.
pub const POI_SOURCE: &str = "caph-poi-seed";
/// Licence of the open data used here.
pub const LICENCE_OUVERTE: &str = "Licence Ouverte / Etalab 2.0";
const CURATED_ATTRIBUTION: &str =
    "Curated by the Porte du Hainaut offer API from the CAPH tourism strategy 2023-2028; not an official record";
const COMMUNES_ATTRIBUTION: &str = "IGN – Admin Express, via Mission Bassin Minier / rlespinasse/bassin-minier-unesco (polygons); INSEE COG via @etalab/decoupage-administratif 6.0.0 (names, postcodes, population)";

/// Why the embedded data could not be read (a build defect, caught by the tests).
#[derive(Debug, thiserror::Error)]
pub enum TerritoryError {
    /// A file is not valid JSON.
    #[error("embedded file is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A geometry is broken.
    #[error("embedded geometry: {0}")]
    Geometry(#[from] GeometryError),
    /// A record lacks something it needs.
    #[error("embedded data: {0}")]
    Missing(String),
}

type Result<T, E = TerritoryError> = std::result::Result<T, E>;

/// A commune of the territory.
#[derive(Debug, Clone)]
pub struct CommuneRecord {
    /// INSEE code.
    pub insee: String,
    /// Name.
    pub name: String,
    /// Postcodes.
    pub postcodes: Vec<String>,
    /// Municipal population (INSEE COG 2026).
    pub population: i64,
    /// Polygon.
    pub geometry: Geometry<f64>,
    /// A point on its surface `(lon, lat)`.
    pub point: (f64, f64),
}

/// A theme and its totem.
#[derive(Debug, Clone)]
pub struct ThemeRecord {
    /// Code.
    pub code: &'static str,
    /// Multilingual name.
    pub name: Texts,
    /// Multilingual description.
    pub description: Texts,
    /// Display order.
    pub position: i32,
    /// Colour on maps.
    pub color: &'static str,
    /// `(source, source_id)` of its totem.
    pub totem: (String, String),
}

/// What makes a route offer a route.
#[derive(Debug, Clone)]
pub struct RouteRecord {
    /// `(source, source_id)` of each stage, in order.
    pub stages: Vec<(String, String)>,
    /// Practices.
    pub practices: Vec<&'static str>,
    /// Length of the line in metres.
    pub length_meters: f64,
    /// surveyed or schematic.
    pub line_precision: &'static str,
}

/// An offer to load.
#[derive(Debug, Clone)]
pub struct OfferRecord {
    /// Source system.
    pub source: String,
    /// Id in the source.
    pub source_id: String,
    /// Slug.
    pub slug: String,
    /// Kind.
    pub kind: &'static str,
    /// DATAtourisme classes.
    pub classes: Vec<&'static str>,
    /// Whether it is a totem.
    pub is_totem: bool,
    /// Multilingual name.
    pub name: Texts,
    /// Multilingual short description.
    pub short_description: Option<Texts>,
    /// Representative point `(lon, lat)`.
    pub point: (f64, f64),
    /// exact, approximate or commune.
    pub geo_precision: &'static str,
    /// Footprint or line.
    pub geometry: Option<Geometry<f64>>,
    /// INSEE code of its commune.
    pub commune_insee: String,
    /// Address.
    pub address: Option<Address>,
    /// Contacts.
    pub contacts: Option<Contacts>,
    /// Labels.
    pub labels: Vec<&'static str>,
    /// Theme codes.
    pub themes: Vec<&'static str>,
    /// Licence of the source.
    pub licence: String,
    /// Attribution.
    pub attribution: String,
    /// Route facts, for a route.
    pub route: Option<RouteRecord>,
}

/// Everything the seeder loads.
#[derive(Debug, Clone)]
pub struct Territory {
    /// The 47 communes.
    pub communes: Vec<CommuneRecord>,
    /// The five themes.
    pub themes: Vec<ThemeRecord>,
    /// Every offer (totems, POIs, routes), stages before the routes that use them.
    pub offers: Vec<OfferRecord>,
    /// `(totem, corrélat)` links, by `(source, source_id)`.
    pub correlates: Vec<((String, String), (String, String))>,
    /// The outer boundary of the territory.
    pub perimeter: Geometry<f64>,
}

fn features(text: &str) -> Result<Vec<Value>> {
    let mut fc: Value = serde_json::from_str(text)?;
    match fc.get_mut("features").map(Value::take) {
        Some(Value::Array(features)) => Ok(features),
        _ => Err(TerritoryError::Missing("a FeatureCollection without features".into())),
    }
}

fn prop<'a>(f: &'a Value, key: &str) -> &'a Value {
    &f["properties"][key]
}

fn prop_str(f: &Value, key: &str) -> Option<String> {
    prop(f, key).as_str().map(str::to_owned)
}

fn need_str(f: &Value, key: &str) -> Result<String> {
    prop_str(f, key).ok_or_else(|| TerritoryError::Missing(format!("property {key} in {}", f["properties"])))
}

fn fr(text: &str) -> Texts {
    Texts::fr(text)
}

fn texts(fr: &str, en: &str, nl: &str, de: &str) -> Texts {
    Texts { fr: Some(fr.into()), en: Some(en.into()), nl: Some(nl.into()), de: Some(de.into()) }
}

/// Reads the embedded data into records.
pub fn territory() -> Result<Territory> {
    let communes = communes()?;
    let perimeter = geometry::parse(&features(PERIMETRE)?[0]["geometry"])?;
    let commune_points: HashMap<&str, (f64, f64)> = communes.iter().map(|c| (c.insee.as_str(), c.point)).collect();
    let point_of = |insee: &str| {
        commune_points.get(insee).copied().ok_or_else(|| TerritoryError::Missing(format!("commune {insee}")))
    };

    let mut offers = Vec::new();
    offers.extend(totems(&point_of)?);
    offers.extend(poi_offers()?);
    move_points_into_their_commune(&mut offers, &communes);
    let correlates = correlates(&offers);
    let routes = routes(&offers)?;
    let mut correlates = correlates;
    for (totem, route) in routes.iter().map(|(t, r)| (t.clone(), r)) {
        correlates.push((totem, (route.source.clone(), route.source_id.clone())));
    }
    offers.extend(routes.into_iter().map(|(_, mut r)| {
        // A route belongs to the commune its representative point lies in.
        if let Some(c) = communes.iter().find(|c| geo::Contains::contains(&c.geometry, &Point::from(r.point))) {
            r.commune_insee = c.insee.clone();
        }
        r
    }));
    dedupe_slugs(&mut offers);
    Ok(Territory { communes, themes: themes(), offers, correlates, perimeter })
}

fn communes() -> Result<Vec<CommuneRecord>> {
    let detailed: HashMap<String, Value> =
        features(COMMUNES_MBM)?.into_iter().filter_map(|f| prop_str(&f, "insee").map(|k| (k, f))).collect();
    let centroids: HashMap<String, Value> =
        features(CENTROIDS)?.into_iter().filter_map(|f| prop_str(&f, "insee").map(|k| (k, f))).collect();
    let mut out = Vec::new();
    for f in features(COMMUNES)? {
        let insee = need_str(&f, "insee")?;
        let polygon =
            detailed.get(&insee).ok_or_else(|| TerritoryError::Missing(format!("detailed polygon of {insee}")))?;
        let centroid = centroids.get(&insee).ok_or_else(|| TerritoryError::Missing(format!("point of {insee}")))?;
        let pos = prop(centroid, "point_on_surface");
        let point = match (pos[0].as_f64(), pos[1].as_f64()) {
            (Some(lon), Some(lat)) => (lon, lat),
            _ => return Err(TerritoryError::Missing(format!("point_on_surface of {insee}"))),
        };
        let postcodes = prop(&f, "codes_postaux")
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        out.push(CommuneRecord {
            name: need_str(&f, "nom")?,
            population: prop(&f, "population").as_i64().unwrap_or(0),
            geometry: geometry::parse(&polygon["geometry"])?,
            postcodes,
            point,
            insee,
        });
    }
    Ok(out)
}

/// Provenance of the commune records, shown with them.
pub fn commune_provenance() -> (&'static str, &'static str) {
    (COMMUNES_ATTRIBUTION, LICENCE_OUVERTE)
}

fn themes() -> Vec<ThemeRecord> {
    let totem = |id: &str| (CURATED_SOURCE.to_owned(), id.to_owned());
    vec![
        ThemeRecord {
            code: "decouverte",
            name: texts("Découverte", "Discovery", "Ontdekking", "Entdeckung"),
            description: texts(
                "Patrimoine minier, religieux et de mémoire",
                "Mining, religious and war heritage",
                "Mijnbouw-, religieus en oorlogserfgoed",
                "Bergbau-, Sakral- und Erinnerungserbe",
            ),
            position: 1,
            color: "#8c510a",
            totem: (POI_SOURCE.to_owned(), "bmu:batis:15A".to_owned()),
        },
        ThemeRecord {
            code: "nature",
            name: texts("Nature et forêt", "Nature and forest", "Natuur en bos", "Natur und Wald"),
            description: texts(
                "La forêt de Raismes-Saint-Amand-Wallers et ses espaces naturels",
                "The Raismes-Saint-Amand-Wallers forest and its natural areas",
                "Het bos van Raismes-Saint-Amand-Wallers en zijn natuurgebieden",
                "Der Wald von Raismes-Saint-Amand-Wallers und seine Naturräume",
            ),
            position: 2,
            color: "#1b7837",
            totem: totem("totem:parc-loisirs-nature"),
        },
        ThemeRecord {
            code: "sport",
            name: texts("Sport", "Sport", "Sport", "Sport"),
            description: texts(
                "Le cyclisme et Paris-Roubaix, ses pavés et ses itinéraires",
                "Cycling and Paris-Roubaix, its cobbles and its routes",
                "Wielrennen en Parijs-Roubaix, de kasseien en de routes",
                "Radsport und Paris-Roubaix, das Kopfsteinpflaster und die Routen",
            ),
            position: 3,
            color: "#d6604d",
            totem: totem("totem:trouee-d-arenberg"),
        },
        ThemeRecord {
            code: "bien-etre",
            name: texts("Bien-être", "Well-being", "Welzijn", "Wohlbefinden"),
            description: texts(
                "Le thermalisme et l'eau à Saint-Amand-les-Eaux",
                "Spa and water in Saint-Amand-les-Eaux",
                "Kuuroord en water in Saint-Amand-les-Eaux",
                "Kur und Wasser in Saint-Amand-les-Eaux",
            ),
            position: 4,
            color: "#762a83",
            totem: totem("totem:station-thermale"),
        },
        ThemeRecord {
            code: "fluvestre",
            name: texts(
                "Nature et voies d'eau",
                "Nature and waterways",
                "Natuur en waterwegen",
                "Natur und Wasserwege",
            ),
            description: texts(
                "Les canaux, l'Escaut et le tourisme fluvial",
                "Canals, the Scheldt and river tourism",
                "Kanalen, de Schelde en riviertoerisme",
                "Kanäle, die Schelde und Flusstourismus",
            ),
            position: 5,
            color: "#2166ac",
            totem: totem("totem:bassin-rond"),
        },
    ]
}

/// The four totems that no open data places: each stands at a point on its commune's surface
/// (`geo_precision = commune`) until the tourist office gives an exact place.
/// Where the Bassin Rond is: press sources put the basin across Bouchain, Estrun and
/// Paillencourt, i.e. at the south-west corner of Bouchain (IGN's commune boundaries); the point
/// stands inside Bouchain near that corner.
pub const BASSIN_ROND: (f64, f64) = (3.2905, 50.2515);
/// The middle of the Trouée d'Arenberg (Drève des Boules d'Hérin), in the forest north-west of the
/// Arenberg pit.
pub const TROUEE_MIDDLE: (f64, f64) = (3.4125, 50.399);
/// Length of the Trouée d'Arenberg, in metres.
pub const TROUEE_LENGTH: f64 = 2400.0;
/// Its direction, in degrees from north: from the pit north-westwards.
const TROUEE_BEARING: f64 = 315.0;

/// The Trouée as a straight line of [`TROUEE_LENGTH`] through [`TROUEE_MIDDLE`] along
/// [`TROUEE_BEARING`], south-east end first (the pit's side).
fn trouee_line() -> LineString<f64> {
    let (lon, lat) = TROUEE_MIDDLE;
    let half = TROUEE_LENGTH / 2.0;
    let bearing = TROUEE_BEARING.to_radians();
    let metres_per_degree_lat = 110_574.0;
    let metres_per_degree_lon = 111_320.0 * lat.to_radians().cos();
    let (dx, dy) = (half * bearing.sin() / metres_per_degree_lon, half * bearing.cos() / metres_per_degree_lat);
    let end = |sign: f64| (geometry::round6(lon + sign * dx), geometry::round6(lat + sign * dy));
    LineString::from(vec![end(-1.0), end(1.0)])
}

fn totems(point_of: &dyn Fn(&str) -> Result<(f64, f64)>) -> Result<Vec<OfferRecord>> {
    let curated = |id: &str,
                   name: &str,
                   short: &str,
                   insee: &str,
                   theme: &'static str,
                   classes: Vec<&'static str>|
     -> Result<OfferRecord> {
        Ok(OfferRecord {
            source: CURATED_SOURCE.to_owned(),
            source_id: id.to_owned(),
            slug: slugify(name),
            kind: "site",
            classes,
            is_totem: true,
            name: fr(name),
            short_description: Some(fr(short)),
            point: point_of(insee)?,
            geo_precision: "commune",
            geometry: None,
            commune_insee: insee.to_owned(),
            address: None,
            contacts: None,
            labels: vec![],
            themes: vec![theme],
            licence: LICENCE_OUVERTE.to_owned(),
            attribution: format!("{CURATED_ATTRIBUTION}; position: a point of the commune, not the exact place"),
            route: None,
        })
    };
    let mut trouee = curated(
        "totem:trouee-d-arenberg",
        "Trouée d'Arenberg",
        "Totem sport : la drève pavée de 2,4 km que Paris-Roubaix emprunte à travers la forêt de Raismes-Saint-Amand-Wallers, au nord-ouest du site minier d'Arenberg.",
        "59632",
        "sport",
        vec!["Tour", "CyclingTour", "SportsAndLeisurePlace"],
    )?;
    let line = trouee_line();
    trouee.kind = "route";
    trouee.point = TROUEE_MIDDLE;
    trouee.geo_precision = "approximate";
    trouee.labels = vec!["secteur-pave"];
    trouee.attribution = format!(
        "{CURATED_ATTRIBUTION}; line: schematic, a straight 2.4 km through its middle (about 50.399 N, 3.4125 E) \
         north-westwards from the Arenberg pit, not a surveyed track"
    );
    trouee.route = Some(RouteRecord {
        stages: vec![],
        practices: vec!["cycling-road"],
        length_meters: (line
            .lines()
            .map(|l| Haversine.distance(Point::from(l.start), Point::from(l.end)))
            .sum::<f64>()
            * 10.0)
            .round()
            / 10.0,
        line_precision: "schematic",
    });
    trouee.geometry = Some(Geometry::LineString(line));
    let mut bassin = curated(
        "totem:bassin-rond",
        "Bassin Rond",
        "Totem nature et voies d'eau : le plan d'eau du Bassin Rond, entre Bouchain, Estrun et Paillencourt, et le tourisme fluvial.",
        "59092",
        "fluvestre",
        vec!["NaturalHeritage", "PlaceOfInterest"],
    )?;
    bassin.point = BASSIN_ROND;
    bassin.geo_precision = "approximate";
    bassin.attribution = format!(
        "{CURATED_ATTRIBUTION}; position: approximate, placed by hand inside Bouchain near its south-west corner, \
         where press sources put the basin across Bouchain, Estrun and Paillencourt (IGN commune boundaries)"
    );
    // The street is known, the position on it is not: the point stays a point of the commune.
    let on_street = |mut o: OfferRecord, street: &str, locality: &str| {
        o.address = Some(Address {
            street: Some(street.to_owned()),
            locality: Some(locality.to_owned()),
            insee_code: Some(o.commune_insee.clone()),
            ..Default::default()
        });
        o
    };
    let parc = curated(
        "totem:parc-loisirs-nature",
        "Parc Loisirs et Nature de La Porte du Hainaut",
        "Totem nature : parc de loisirs rue de la Fontaine Bouillon à Raismes, à l'orée de la forêt de Raismes-Saint-Amand-Wallers.",
        "59491",
        "nature",
        vec!["ParkAndGarden", "NaturalHeritage", "PlaceOfInterest"],
    )?;
    let spa = curated(
        "totem:station-thermale",
        "Station thermale de Saint-Amand-les-Eaux",
        "Totem bien-être : le thermalisme route de la Fontaine Bouillon à Saint-Amand-les-Eaux, à l'orée de la forêt de Raismes-Saint-Amand-Wallers.",
        "59526",
        "bien-etre",
        vec!["SportsAndLeisurePlace", "PlaceOfInterest"],
    )?;
    Ok(vec![
        on_street(parc, "Rue de la Fontaine Bouillon", "Raismes"),
        trouee,
        on_street(spa, "Route de la Fontaine Bouillon", "Saint-Amand-les-Eaux"),
        bassin,
    ])
}

fn footprint_index() -> Result<HashMap<String, Geometry<f64>>> {
    let mut index = HashMap::new();
    for (prefix, text) in [
        ("bmu:batis:", BATIS),
        ("bmu:cites-minieres:", CITES),
        ("bmu:terrils:", TERRILS),
        ("bmu:espace-neonaturel:", NEONATUREL),
    ] {
        for f in features(text)? {
            let g = geometry::parse(&f["geometry"])?;
            if let Some(id) = prop_str(&f, "id_unesco") {
                index.insert(format!("{prefix}{id}"), g.clone());
            }
            if let Some(lsm) = prop(&f, "id_lsm").as_f64() {
                index.insert(format!("{prefix}lsm:{}", lsm as i64), g);
            }
        }
    }
    Ok(index)
}

fn poi_offers() -> Result<Vec<OfferRecord>> {
    let footprints = footprint_index()?;
    let mut out = Vec::new();
    for f in features(POI)? {
        let id = need_str(&f, "id")?;
        let name = need_str(&f, "name")?;
        let category = need_str(&f, "category")?;
        let coords = &f["geometry"]["coordinates"];
        let point = match (coords[0].as_f64(), coords[1].as_f64()) {
            (Some(lon), Some(lat)) => (lon, lat),
            _ => return Err(TerritoryError::Missing(format!("point of {id}"))),
        };
        let subcategory = prop_str(&f, "subcategory");
        let (classes, themes): (Vec<&'static str>, Vec<&'static str>) = match category.as_str() {
            "musee" => (vec!["Museum", "CulturalSite", "PlaceOfInterest"], vec!["decouverte"]),
            "terril" => (vec!["NaturalHeritage", "TechnicalHeritage", "PlaceOfInterest"], vec!["decouverte", "nature"]),
            "espace-naturel" => (vec!["NaturalHeritage", "PlaceOfInterest"], vec!["nature", "decouverte"]),
            _ if subcategory.as_deref() == Some("Édifice religieux") => {
                (vec!["Church", "ReligiousSite", "CulturalSite", "PlaceOfInterest"], vec!["decouverte"])
            }
            _ => (vec!["TechnicalHeritage", "CulturalSite", "PlaceOfInterest"], vec!["decouverte"]),
        };
        let mut labels = Vec::new();
        if category == "musee" {
            labels.push("musee-de-france");
        }
        if prop(&f, "unesco").as_bool() == Some(true) {
            labels.push("unesco-patrimoine-mondial");
        }
        match prop(&f, "protection").as_str() {
            Some("Classé MH") => labels.push("monument-historique-classe"),
            Some("Inscrit MH") => labels.push("monument-historique-inscrit"),
            Some("Situé en abords MH") => labels.push("abords-monument-historique"),
            _ => {}
        }
        let address = prop_str(&f, "address").map(|street| Address {
            street: Some(street),
            postal_code: prop_str(&f, "postal_code"),
            locality: prop_str(&f, "commune"),
            insee_code: prop_str(&f, "insee"),
        });
        let mut contacts = Contacts::default();
        if let Some(phone) = prop_str(&f, "phone") {
            contacts.phones.push(phone);
        }
        if let Some(site) = prop_str(&f, "website") {
            // The source gives host and path without a scheme.
            let url = if site.starts_with("http") { site } else { format!("https://{site}") };
            contacts.websites.push(url);
        }
        let short = match (category.as_str(), &subcategory) {
            ("musee", _) => "Musée de France.".to_owned(),
            (_, Some(sub)) if id.starts_with("bmu:") => {
                format!(
                    "{sub} du Bassin minier du Nord-Pas-de-Calais{}.",
                    if prop(&f, "unesco").as_bool() == Some(true) { ", patrimoine mondial de l'UNESCO" } else { "" }
                )
            }
            _ => "Espace néo-naturel du Bassin minier, patrimoine mondial de l'UNESCO.".to_owned(),
        };
        let is_arenberg = id == "bmu:batis:15A";
        let short = if is_arenberg {
            "Site minier d'Arenberg : fosse classée monument historique, au cœur du Bassin minier du Nord-Pas-de-Calais inscrit au patrimoine mondial de l'UNESCO.".to_owned()
        } else {
            short
        };
        out.push(OfferRecord {
            source: POI_SOURCE.to_owned(),
            slug: slugify(&name),
            kind: "site",
            classes,
            is_totem: is_arenberg,
            name: fr(&name),
            short_description: Some(fr(&short)),
            point,
            geo_precision: "exact",
            geometry: footprints.get(&id).cloned(),
            commune_insee: need_str(&f, "insee")?,
            address,
            contacts: (!contacts.is_empty()).then_some(contacts),
            labels,
            themes,
            licence: LICENCE_OUVERTE.to_owned(),
            attribution: need_str(&f, "source")?,
            route: None,
            source_id: id,
        });
    }
    Ok(out)
}

fn key(o: &OfferRecord) -> (String, String) {
    (o.source.clone(), o.source_id.clone())
}

/// Which POIs each totem sends visitors on to: by theme and place, from the facts in the data.
fn correlates(offers: &[OfferRecord]) -> Vec<((String, String), (String, String))> {
    let arenberg = (POI_SOURCE.to_owned(), "bmu:batis:15A".to_owned());
    let curated = |id: &str| (CURATED_SOURCE.to_owned(), id.to_owned());
    let forest_communes = ["59491", "59632", "59526"];
    let mut links = Vec::new();
    for o in offers.iter().filter(|o| !o.is_totem) {
        let k = key(o);
        if o.themes.contains(&"decouverte") {
            links.push((arenberg.clone(), k.clone()));
        }
        if o.themes.contains(&"nature") && forest_communes.contains(&o.commune_insee.as_str()) {
            links.push((curated("totem:parc-loisirs-nature"), k.clone()));
        }
        match o.source_id.as_str() {
            "museofile:M0635" => links.push((curated("totem:station-thermale"), k)),
            "museofile:M0614" => links.push((curated("totem:bassin-rond"), k)),
            _ => {}
        }
    }
    // The cobbles of the Trouée run beside the Arenberg pit head.
    links.push((curated("totem:trouee-d-arenberg"), arenberg));
    links
}

/// A curated route: id, name, short description, starting stage, practices, theme, totem, stages.
struct RouteSpec(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<&'static str>,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// Curated itineraries through existing offers. Their lines join the stages straight
/// (`line_precision = schematic`): they show the order of the visit, not a surveyed track.
fn routes(offers: &[OfferRecord]) -> Result<Vec<((String, String), OfferRecord)>> {
    let by_id: HashMap<&str, &OfferRecord> = offers.iter().map(|o| (o.source_id.as_str(), o)).collect();
    let specs: [RouteSpec; 4] = [
        RouteSpec(
            "route:circuit-minier-arenberg",
            "Circuit du patrimoine minier de Wallers-Arenberg",
            "Itinéraire pédestre schématique reliant la fosse, la cité et les édifices miniers d'Arenberg, jusqu'à la Mare à Goriaux.",
            "bmu:batis:15A",
            vec!["walking"],
            "decouverte",
            "bmu:batis:15A",
            &[
                "bmu:batis:15A",
                "bmu:cites-minieres:15D",
                "bmu:batis:15H",
                "bmu:batis:15G",
                "bmu:batis:15E",
                "bmu:batis:15F",
                "bmu:terrils:15B",
                "bmu:espace-neonaturel:15C",
            ],
        ),
        RouteSpec(
            "route:foret-terrils-raismes",
            "Forêt et terrils de Raismes",
            "Itinéraire schématique de la Mare à Goriaux aux terrils et à la cité de Sabatier, à pied ou à VTT.",
            "bmu:espace-neonaturel:15C",
            vec!["walking", "mtb"],
            "nature",
            "totem:parc-loisirs-nature",
            &[
                "bmu:espace-neonaturel:15C",
                "bmu:terrils:8S",
                "bmu:terrils:8V",
                "bmu:terrils:8T",
                "bmu:batis:8W",
                "bmu:cites-minieres:8X",
                "bmu:batis:8Z",
            ],
        ),
        RouteSpec(
            "route:paves-arenberg-tour-abbatiale",
            "Des pavés d'Arenberg à la Tour abbatiale",
            "Itinéraire cyclable schématique du site minier d'Arenberg à Saint-Amand-les-Eaux.",
            "bmu:batis:15A",
            vec!["cycling-road"],
            "sport",
            "totem:trouee-d-arenberg",
            &["bmu:batis:15A", "bmu:cites-minieres:15D", "bmu:espace-neonaturel:15C", "museofile:M0635"],
        ),
        RouteSpec(
            "route:cites-minieres-denain-escaudain",
            "Cités minières de Denain et d'Escaudain",
            "Itinéraire schématique à vélo tout chemin par la fosse Mathilde, les cités Chabaud-Latour et Audiffret, le terril Renard et deux musées de France.",
            "bmu:batis:17",
            vec!["hybrid-bike"],
            "decouverte",
            "bmu:batis:15A",
            &[
                "bmu:batis:17",
                "bmu:cites-minieres:16A",
                "bmu:terrils:18",
                "museofile:M0618",
                "museofile:M0623",
                "bmu:cites-minieres:19C",
            ],
        ),
    ];
    let mut out = Vec::new();
    for RouteSpec(id, name, short, start, practices, theme, totem_id, stage_ids) in specs {
        let stages: Vec<&OfferRecord> = stage_ids
            .iter()
            .map(|s| by_id.get(s).copied().ok_or_else(|| TerritoryError::Missing(format!("stage {s} of {id}"))))
            .collect::<Result<_>>()?;
        let first = by_id.get(start).ok_or_else(|| TerritoryError::Missing(format!("start {start}")))?;
        let line: LineString<f64> = stages.iter().map(|s| s.point).collect();
        let length: f64 = line.lines().map(|l| Haversine.distance(Point::from(l.start), Point::from(l.end))).sum();
        // The midpoint along the line stands for the route, apart from any one stage.
        let middle = line
            .point_at_ratio_from_start(&Euclidean, 0.5)
            .map_or(first.point, |p| (geometry::round6(p.x()), geometry::round6(p.y())));
        let totem =
            by_id.get(totem_id).map(|t| key(t)).ok_or_else(|| TerritoryError::Missing(format!("totem {totem_id}")))?;
        out.push((
            totem,
            OfferRecord {
                source: CURATED_SOURCE.to_owned(),
                source_id: id.to_owned(),
                slug: slugify(name),
                kind: "route",
                classes: vec![
                    "Tour",
                    match practices[0] {
                        "walking" => "WalkingTour",
                        "cycling-road" | "hybrid-bike" => "CyclingTour",
                        _ => "Tour",
                    },
                ],
                is_totem: false,
                name: fr(name),
                short_description: Some(fr(short)),
                point: middle,
                geo_precision: "approximate",
                geometry: Some(Geometry::LineString(line)),
                commune_insee: first.commune_insee.clone(),
                address: None,
                contacts: None,
                labels: vec![],
                themes: vec![theme],
                licence: LICENCE_OUVERTE.to_owned(),
                attribution: format!(
                    "{CURATED_ATTRIBUTION}; stages from the open data of the territory; schematic line"
                ),
                route: Some(RouteRecord {
                    stages: stages.iter().map(|s| key(s)).collect(),
                    practices,
                    length_meters: (length * 10.0).round() / 10.0,
                    line_precision: "schematic",
                }),
            },
        ));
    }
    Ok(out)
}

/// A footprint can straddle two communes while the source's representative point falls in the
/// one holding the smaller share (Cité d'Arenberg: mostly Wallers, point in Raismes). The point
/// then moves to an interior point of the part of the footprint inside the commune of record.
fn move_points_into_their_commune(offers: &mut [OfferRecord], communes: &[CommuneRecord]) {
    use geo::{BooleanOps, Contains, InteriorPoint, MultiPolygon};
    let polygons: HashMap<&str, &Geometry<f64>> = communes.iter().map(|c| (c.insee.as_str(), &c.geometry)).collect();
    let as_multi = |g: &Geometry<f64>| -> Option<MultiPolygon<f64>> {
        match g {
            Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
            Geometry::MultiPolygon(mp) => Some(mp.clone()),
            _ => None,
        }
    };
    for o in offers.iter_mut() {
        let Some(commune) = polygons.get(o.commune_insee.as_str()) else { continue };
        if commune.contains(&Point::from(o.point)) {
            continue;
        }
        let (Some(footprint), Some(area)) = (o.geometry.as_ref().and_then(as_multi), as_multi(commune)) else {
            continue;
        };
        if let Some(p) = footprint.intersection(&area).interior_point() {
            o.point = (geometry::round6(p.x()), geometry::round6(p.y()));
        }
    }
}

/// Names that occur more than once get their commune appended to their slug.
fn dedupe_slugs(offers: &mut [OfferRecord]) {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for o in offers.iter() {
        *count.entry(o.slug.clone()).or_default() += 1;
    }
    let names: HashMap<String, String> = features(COMMUNES)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| Some((prop_str(f, "insee")?, prop_str(f, "nom")?)))
        .collect();
    for o in offers.iter_mut() {
        if count.get(&o.slug).copied().unwrap_or(0) > 1 {
            let commune = names.get(&o.commune_insee).map(|n| slugify(n)).unwrap_or_else(|| o.commune_insee.clone());
            o.slug = format!("{}-{}", o.slug, commune);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;
    use std::collections::HashSet;

    fn t() -> Territory {
        territory().expect("embedded data reads")
    }

    #[test]
    fn has_the_47_communes_and_five_totems() {
        let t = t();
        assert_eq!(t.communes.len(), 47);
        assert_eq!(t.offers.iter().filter(|o| o.is_totem).count(), 5);
        assert_eq!(t.themes.len(), 5);
    }

    #[test]
    fn every_poi_of_the_seed_file_is_an_offer() {
        let t = t();
        let n = t.offers.iter().filter(|o| o.source == POI_SOURCE).count();
        assert_eq!(n, features(POI).expect("poi file").len());
    }

    #[test]
    fn slugs_are_unique() {
        let t = t();
        let slugs: HashSet<_> = t.offers.iter().map(|o| o.slug.clone()).collect();
        assert_eq!(slugs.len(), t.offers.len());
    }

    #[test]
    fn every_point_lies_in_its_commune() {
        let t = t();
        let polygons: HashMap<_, _> = t.communes.iter().map(|c| (c.insee.clone(), c.geometry.clone())).collect();
        for o in &t.offers {
            let polygon = &polygons[&o.commune_insee];
            assert!(polygon.contains(&Point::from(o.point)), "{} is outside {}", o.slug, o.commune_insee);
        }
    }

    #[test]
    fn footprints_come_from_the_unesco_files() {
        let t = t();
        let with = t.offers.iter().filter(|o| o.source == POI_SOURCE && o.geometry.is_some()).count();
        // 55 of the 59 POIs are UNESCO features with a polygon; the four museums are points.
        assert_eq!(with, 55);
    }

    #[test]
    fn routes_have_ordered_stages_and_a_length() {
        let t = t();
        let routes: Vec<_> = t.offers.iter().filter(|o| o.route.is_some() && !o.is_totem).collect();
        assert_eq!(routes.len(), 4);
        for o in routes {
            let r = o.route.as_ref().expect("route");
            assert!(r.stages.len() >= 3, "{}", o.slug);
            assert!(r.length_meters > 500.0);
            assert_eq!(r.line_precision, "schematic");
        }
    }

    /// Each totem stands in the commune it belongs to, by the IGN polygons; where its place is
    /// known, within 500 m of it; the Trouée is a line of about 2.4 km with the totem's point on it.
    #[test]
    fn every_totem_stands_where_it_is() {
        use geo::{Contains, Distance, Haversine, Length};
        let t = t();
        let polygon = |insee: &str| &t.communes.iter().find(|c| c.insee == insee).expect("commune").geometry;
        let totem = |id: &str| t.offers.iter().find(|o| o.source_id == id).expect("totem");
        // The Fosse d'Arenberg: its point comes from the UNESCO file, inside its footprint.
        let fosse = t.offers.iter().find(|o| o.is_totem && o.source != CURATED_SOURCE).expect("the fifth totem");
        for (o, insee, known, precision) in [
            (fosse, "59632", Some((3.4258, 50.3844)), "exact"),
            (totem("totem:bassin-rond"), "59092", Some(BASSIN_ROND), "approximate"),
            (totem("totem:trouee-d-arenberg"), "59632", Some(TROUEE_MIDDLE), "approximate"),
            (totem("totem:parc-loisirs-nature"), "59491", None, "commune"),
            (totem("totem:station-thermale"), "59526", None, "commune"),
        ] {
            assert!(o.is_totem, "{}", o.slug);
            assert_eq!(o.commune_insee, insee, "{}", o.slug);
            assert!(polygon(insee).contains(&Point::from(o.point)), "{} is outside its commune", o.slug);
            assert_eq!(o.geo_precision, precision, "{}", o.slug);
            if let Some(p) = known {
                let d = Haversine.distance(Point::from(o.point), Point::from(p));
                assert!(d < 500.0, "{} is {d:.0} m from where it is", o.slug);
            }
        }
        // The Bassin Rond is in Bouchain's south-west corner, not its centre (3.5 km away).
        let bouchain = t.communes.iter().find(|c| c.insee == "59092").expect("Bouchain");
        assert!(Haversine.distance(Point::from(BASSIN_ROND), Point::from(bouchain.point)) > 2000.0);
        let trouee = totem("totem:trouee-d-arenberg");
        let Some(Geometry::LineString(line)) = &trouee.geometry else { panic!("the Trouée is a line") };
        let length = Haversine.length(line);
        assert!((2300.0..2500.0).contains(&length), "{length} m");
        assert!(line.points().all(|p| polygon("59632").contains(&p)), "the Trouée runs in Wallers");
        let route = trouee.route.as_ref().expect("a route");
        assert_eq!((route.line_precision, route.practices.as_slice()), ("schematic", &["cycling-road"][..]));
        let middle = line.point_at_ratio_from_start(&Euclidean, 0.5).expect("middle");
        assert!(Haversine.distance(middle, Point::from(trouee.point)) < 1.0, "the point is on the line");
        // The park and the spa stand at the edge of the forest, and say so.
        for id in ["totem:parc-loisirs-nature", "totem:station-thermale"] {
            let short = totem(id).short_description.as_ref().and_then(|t| t.fr.clone()).expect("short");
            assert!(short.contains("à l'orée de la forêt") && !short.contains("cœur"), "{short}");
        }
    }
}
