//! The records a snapshot holds: an offer as public reads need it (relations by id, texts in
//! fixed slots, provenance texts interned), a commune, a theme; and how rows become records.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entities::domain::{geometry, hours, mercator, text as fold};
use entities::values::{Accessibility, Address, Capacity, Contacts, Prices};
use entities::vocab::{Difficulty, GeoPrecision, LinePrecision, MediaKind, OfferKind, OfferStatus};
use entities::{commune, offer, theme};
use geo::Geometry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::lang::Lang;

/// Multilingual text in a slot per language (fr, en, nl, de): no map per field, which matters at
/// hundreds of thousands of offers. French is the language of record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Texts([Option<Box<str>>; 4]);

fn slot(lang: Lang) -> usize {
    match lang {
        Lang::Fr => 0,
        Lang::En => 1,
        Lang::Nl => 2,
        Lang::De => 3,
    }
}

impl Texts {
    /// The text in exactly this language.
    pub fn exact(&self, lang: Lang) -> Option<&str> {
        self.0[slot(lang)].as_deref()
    }

    /// Every text, French first.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|t| t.as_deref())
    }

    /// The text in a language, else in French, else in any language; with the language used.
    pub fn get(&self, lang: Lang) -> Option<(&str, Lang)> {
        self.exact(lang)
            .map(|t| (t, lang))
            .or_else(|| self.exact(Lang::Fr).map(|t| (t, Lang::Fr)))
            .or_else(|| Lang::ALL.iter().find_map(|l| self.exact(*l).map(|t| (t, *l))))
    }
}

impl From<&entities::values::Texts> for Texts {
    fn from(t: &entities::values::Texts) -> Texts {
        let one = |s: &Option<String>| s.as_deref().filter(|s| !s.trim().is_empty()).map(Box::from);
        Texts([one(&t.fr), one(&t.en), one(&t.nl), one(&t.de)])
    }
}

/// One occurrence of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Occurrence {
    /// Start.
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub start: DateTime<Utc>,
    /// End.
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub end: DateTime<Utc>,
}

/// A media item with its own licence and credit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaItem {
    /// Id.
    pub id: Box<str>,
    /// Kind.
    pub kind: MediaKind,
    /// Address.
    pub url: Box<str>,
    /// Title.
    pub title: Texts,
    /// Licence.
    pub licence: Option<Box<str>>,
    /// Credit.
    pub credit: Option<Box<str>>,
    /// MIME type.
    pub mime_type: Option<Box<str>>,
}

/// Route facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// Stage offers, in order (only the public ones are shown).
    pub stages: Vec<Uuid>,
    /// Length in metres.
    pub length_meters: f64,
    /// Practices.
    pub practices: Vec<String>,
    /// Difficulty.
    pub difficulty: Option<Difficulty>,
    /// How faithful the line is.
    pub line_precision: LinePrecision,
}

/// Where a record comes from. The texts shared by many records are interned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provenance {
    /// Source system.
    pub source: Arc<str>,
    /// Id in the source.
    pub source_id: Box<str>,
    /// Licence.
    pub licence: Arc<str>,
    /// Attribution.
    pub attribution: Arc<str>,
    /// Page in the source.
    pub url: Option<Box<str>>,
    /// Last change in the source.
    #[serde(with = "chrono::serde::ts_nanoseconds_option")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A public offer as the catalog holds it. Serialised for the on-disk snapshot (`snapshot`):
/// what can be derived again (the tile projection, the parsed opening hours) is left out, and the
/// values that skip their empty fields in JSON are kept as JSON text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferRecord {
    /// Id.
    pub id: Uuid,
    /// Slug.
    pub slug: Arc<str>,
    /// Kind.
    pub kind: OfferKind,
    /// DATAtourisme classes.
    pub classes: Vec<String>,
    /// Totem flag.
    pub is_totem: bool,
    /// Name.
    pub name: Texts,
    /// Short description.
    pub short_description: Texts,
    /// Long description.
    pub description: Texts,
    /// Representative point (lon, lat).
    pub point: [f64; 2],
    /// How precise the point is.
    pub geo_precision: GeoPrecision,
    /// Footprint or line.
    pub geometry: Option<Geometry<f64>>,
    /// The geometry projected to the Web Mercator unit square and generalised by zoom, for tiles.
    #[serde(skip)]
    pub mercator: Option<Box<mercator::Projected>>,
    /// Bounding box (west, south, east, north).
    pub bbox: [f64; 4],
    /// INSEE code.
    pub commune: Option<Box<str>>,
    /// Inside the territory.
    pub in_territory: bool,
    /// Address.
    #[serde(with = "super::snapshot::json_text")]
    pub address: Option<Box<Address>>,
    /// Contacts.
    #[serde(with = "super::snapshot::json_text")]
    pub contacts: Option<Box<Contacts>>,
    /// Opening hours (OSM syntax).
    pub opening_hours: Option<Box<str>>,
    /// Opening hours as free text.
    pub opening_hours_text: Option<Box<str>>,
    /// Parsed opening hours.
    #[serde(skip)]
    pub schedule: Option<Arc<opening_hours::OpeningHours>>,
    /// Prices.
    #[serde(with = "super::snapshot::json_text")]
    pub prices: Option<Box<Prices>>,
    /// Accessibility.
    #[serde(with = "super::snapshot::json_text")]
    pub accessibility: Option<Box<Accessibility>>,
    /// Labels.
    pub labels: Vec<String>,
    /// Capacity.
    #[serde(with = "super::snapshot::json_text")]
    pub capacity: Option<Box<Capacity>>,
    /// Classification in Atout France's register.
    #[serde(with = "super::snapshot::json_text")]
    pub classification: Option<Box<entities::values::Classification>>,
    /// Provenance.
    pub provenance: Provenance,
    /// Version.
    pub version: i32,
    /// Status.
    pub status: OfferStatus,
    /// Soft deletion time.
    #[serde(with = "chrono::serde::ts_nanoseconds_option")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Organisation that owns it.
    pub owner: Option<Box<str>>,
    /// Creation.
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub updated_at: DateTime<Utc>,
    /// Theme codes, sorted.
    pub themes: Vec<Box<str>>,
    /// Its corrélats when a totem, in order.
    pub correlates: Vec<Uuid>,
    /// Event occurrences, by start.
    pub occurrences: Vec<Occurrence>,
    /// Route facts (boxed: most offers are not routes).
    pub route: Option<Box<RouteInfo>>,
    /// Media, in order.
    pub media: Vec<MediaItem>,
    /// Folded name, for ordering.
    pub sort_name: Arc<str>,
}

impl OfferRecord {
    /// The id as text.
    pub fn id_string(&self) -> String {
        self.id.hyphenated().to_string()
    }

    /// The footprint or line as RFC 7946 GeoJSON, written when asked for (not kept: it would
    /// double the memory of the catalog).
    pub fn geometry_json(&self) -> Option<serde_json::Value> {
        self.geometry.as_ref().map(geometry::to_geojson)
    }

    /// Whether the offer's place (its footprint or line, else its point) meets a box
    /// `(west, south, east, north)`: a true intersection, not a meeting of bounding boxes.
    pub fn meets(&self, bbox: [f64; 4]) -> bool {
        match &self.geometry {
            Some(g) => geometry_meets(g, self.bbox, bbox),
            None => point_inside(self.point, bbox),
        }
    }

    /// Whether the offer is accessible to wheelchair users by its data.
    pub fn is_accessible(&self) -> bool {
        self.accessibility.as_ref().is_some_and(|a| a.is_accessible())
    }

    /// Whether it is a route with a line.
    pub fn is_route(&self) -> bool {
        self.route.is_some() && self.geometry.is_some()
    }

    /// Whether it is an area or a line other than a route.
    pub fn is_footprint(&self) -> bool {
        self.route.is_none() && self.geometry.is_some()
    }
}

/// What hangs off an offer, read from the link tables.
#[derive(Debug, Clone, Default)]
pub struct Children {
    /// Theme codes.
    pub themes: Vec<String>,
    /// Corrélats, in order.
    pub correlates: Vec<Uuid>,
    /// Occurrences.
    pub occurrences: Vec<Occurrence>,
    /// Route facts.
    pub route: Option<RouteInfo>,
    /// Media, in order.
    pub media: Vec<MediaItem>,
}

/// Turns rows into records, parsing each opening-hours expression once and keeping each
/// provenance text once however many offers share them.
#[derive(Default)]
pub struct Records {
    schedules: HashMap<String, Option<Arc<opening_hours::OpeningHours>>>,
    interned: HashMap<String, Arc<str>>,
}

impl Records {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.interned.insert(s.to_owned(), a.clone());
        a
    }

    /// Completes a record read back from a snapshot: the parsed opening hours and the tile
    /// projection are derived again, and the provenance texts interned again.
    pub fn restore(&mut self, mut o: OfferRecord) -> OfferRecord {
        o.schedule = match &o.opening_hours {
            Some(h) => {
                self.schedules.entry(h.to_string()).or_insert_with(|| hours::parse(h).ok().map(Arc::new)).clone()
            }
            None => None,
        };
        o.mercator = o.geometry.as_ref().map(|g| Box::new(mercator::Projected::new(g)));
        o.provenance.source = self.intern(&o.provenance.source);
        o.provenance.licence = self.intern(&o.provenance.licence);
        o.provenance.attribution = self.intern(&o.provenance.attribution);
        o
    }

    /// Converts a row and its children.
    pub fn convert(&mut self, m: offer::Model, children: Children) -> Result<OfferRecord> {
        let id = Uuid::parse_str(&m.id).map_err(|e| Error::Internal(format!("offer id {}: {e}", m.id)))?;
        let schedule = match &m.opening_hours {
            Some(h) => self.schedules.entry(h.clone()).or_insert_with(|| hours::parse(h).ok().map(Arc::new)).clone(),
            None => None,
        };
        let geometry = match &m.geometry {
            Some(text) => {
                let json: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| Error::Internal(format!("offer {} geometry: {e}", m.id)))?;
                Some(geometry::parse(&json).map_err(|e| Error::Internal(format!("offer {}: {e}", m.id)))?)
            }
            None => None,
        };
        let name = Texts::from(&m.name);
        let sort_name: Arc<str> = name.get(Lang::Fr).map(|(t, _)| fold::sort_key(t)).unwrap_or_default().into();
        let mut themes: Vec<Box<str>> = children.themes.into_iter().map(Box::from).collect();
        themes.sort();
        themes.dedup();
        let provenance = Provenance {
            source: self.intern(&m.source),
            source_id: m.source_id.into(),
            licence: self.intern(&m.source_licence),
            attribution: self.intern(&m.source_attribution),
            url: m.source_url.map(Box::from),
            updated_at: m.source_updated_at,
        };
        Ok(OfferRecord {
            id,
            slug: m.slug.into(),
            kind: m.kind,
            classes: m.classes.0,
            is_totem: m.is_totem,
            name,
            short_description: m.short_description.as_ref().map(Texts::from).unwrap_or_default(),
            description: m.description.as_ref().map(Texts::from).unwrap_or_default(),
            point: [m.lon, m.lat],
            geo_precision: m.geo_precision,
            mercator: geometry.as_ref().map(|g| Box::new(mercator::Projected::new(g))),
            geometry,
            bbox: [m.min_lon, m.min_lat, m.max_lon, m.max_lat],
            commune: m.commune_insee.map(Box::from),
            in_territory: m.in_territory,
            address: m.address.map(Box::new),
            contacts: m.contacts.map(Box::new),
            opening_hours: m.opening_hours.map(Box::from),
            opening_hours_text: m.opening_hours_text.map(Box::from),
            schedule,
            prices: m.prices.map(Box::new),
            accessibility: m.accessibility.map(Box::new),
            labels: m.labels.0,
            capacity: m.capacity.map(Box::new),
            classification: m.classification.map(Box::new),
            provenance,
            version: m.version,
            status: m.status,
            deleted_at: m.deleted_at,
            owner: m.owner.map(Box::from),
            created_at: m.created_at,
            updated_at: m.updated_at,
            themes,
            correlates: children.correlates,
            occurrences: children.occurrences,
            route: children.route.map(Box::new),
            media: children.media,
            sort_name,
        })
    }
}

/// A commune.
#[derive(Debug, Clone)]
pub struct CommuneRecord {
    /// INSEE code.
    pub insee: String,
    /// Name.
    pub name: String,
    /// Postcodes.
    pub postcodes: Vec<String>,
    /// Population.
    pub population: i64,
    /// Polygon.
    pub geometry: Geometry<f64>,
    /// As GeoJSON.
    pub geometry_json: serde_json::Value,
    /// Projected to the Web Mercator unit square and generalised by zoom, for tiles.
    pub mercator: mercator::Projected,
    /// A point inside (lon, lat).
    pub point: [f64; 2],
    /// Bounding box.
    pub bbox: [f64; 4],
    /// Source.
    pub source: String,
    /// Licence.
    pub licence: String,
}

impl CommuneRecord {
    /// Reads a row.
    pub fn from_row(c: commune::Model) -> Result<CommuneRecord> {
        let json: serde_json::Value = serde_json::from_str(&c.geometry)
            .map_err(|e| Error::Internal(format!("commune {} geometry: {e}", c.insee)))?;
        let geometry = geometry::parse(&json).map_err(|e| Error::Internal(format!("commune {}: {e}", c.insee)))?;
        Ok(CommuneRecord {
            postcodes: c.postcodes.0,
            geometry_json: geometry::to_geojson(&geometry),
            mercator: mercator::Projected::new(&geometry),
            geometry,
            point: [c.lon, c.lat],
            bbox: [c.min_lon, c.min_lat, c.max_lon, c.max_lat],
            insee: c.insee,
            name: c.name,
            population: c.population,
            source: c.source,
            licence: c.licence,
        })
    }

    /// Whether the commune's polygon meets a box `(west, south, east, north)`.
    pub fn meets(&self, bbox: [f64; 4]) -> bool {
        geometry_meets(&self.geometry, self.bbox, bbox)
    }
}

/// A theme.
#[derive(Debug, Clone)]
pub struct ThemeRecord {
    /// Code.
    pub code: String,
    /// Name.
    pub name: Texts,
    /// Description.
    pub description: Texts,
    /// Colour.
    pub color: String,
    /// Its totem.
    pub totem: Option<Uuid>,
}

impl ThemeRecord {
    /// Reads a row.
    pub fn from_row(t: theme::Model) -> ThemeRecord {
        ThemeRecord {
            name: Texts::from(&t.name),
            description: Texts::from(&t.description),
            color: t.color,
            totem: t.totem_offer_id.and_then(|id| Uuid::parse_str(&id).ok()),
            code: t.code,
        }
    }
}

/// Whether a point lies in a box (edges included).
pub fn point_inside(p: [f64; 2], b: [f64; 4]) -> bool {
    p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
}

/// Whether two boxes meet.
pub fn boxes_meet(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]
}

/// Whether a geometry with bounding box `own` meets the box `b`: the boxes first (cheap), then
/// the shapes themselves.
fn geometry_meets(g: &Geometry<f64>, own: [f64; 4], b: [f64; 4]) -> bool {
    use geo::Intersects;
    boxes_meet(own, b)
        && g.intersects(&geo::Rect::new(geo::coord! { x: b[0], y: b[1] }, geo::coord! { x: b[2], y: b[3] }))
}
