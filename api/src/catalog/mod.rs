//! The in-memory catalog: an immutable snapshot of the published offer, with its indexes,
//! from which every public read is served. A committed write builds a new snapshot and swaps
//! it in atomically; each snapshot carries the database's catalog version.

pub mod query;
pub mod text;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use entities::prelude::*;
use entities::{event_occurrence, media, offer};
use geo::Geometry;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::lang::Lang;
use text::{Field, TextIndex};

/// Multilingual text: French is the language of record. A slot per language (fr, en, nl, de):
/// no hash map per field, which matters at hundreds of thousands of offers.
#[derive(Debug, Clone, Default)]
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
    /// Reads `{"fr": …, "en": …}`, ignoring unknown languages and empty strings.
    pub fn from_json(value: Option<&Value>) -> Texts {
        let mut texts = Texts::default();
        if let Some(Value::Object(o)) = value {
            for (k, v) in o {
                if let (Some(lang), Some(text)) = (Lang::from_code(k), v.as_str())
                    && !text.trim().is_empty()
                {
                    texts.0[slot(lang)] = Some(text.into());
                }
            }
        }
        texts
    }

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

/// One occurrence of an event.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// A media item with its own licence and credit.
#[derive(Debug, Clone)]
pub struct MediaItem {
    /// Id.
    pub id: String,
    /// image, video, audio or document.
    pub kind: String,
    /// Address.
    pub url: String,
    /// Title.
    pub title: Texts,
    /// Licence.
    pub licence: Option<String>,
    /// Credit.
    pub credit: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
}

/// Route facts.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// Stage offers, by catalog index, in order.
    pub stages: Vec<usize>,
    /// Length in metres.
    pub length_meters: f64,
    /// Practices.
    pub practices: Vec<String>,
    /// Difficulty.
    pub difficulty: Option<String>,
    /// surveyed or schematic.
    pub line_precision: String,
}

/// Where a record comes from. The texts shared by many records are interned.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// Source system.
    pub source: Arc<str>,
    /// Id in the source.
    pub source_id: String,
    /// Licence.
    pub licence: Arc<str>,
    /// Attribution.
    pub attribution: Arc<str>,
    /// Page in the source.
    pub url: Option<String>,
    /// Last change in the source.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A published offer as the catalog holds it.
#[derive(Debug, Clone)]
pub struct OfferRecord {
    /// UUID.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Kind.
    pub kind: String,
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
    /// exact, approximate or commune.
    pub geo_precision: String,
    /// Footprint or line.
    pub geometry: Option<Geometry<f64>>,
    /// The geometry projected to the Web Mercator unit square, for tiles.
    pub mercator: Option<Geometry<f64>>,
    /// Bounding box (west, south, east, north).
    pub bbox: [f64; 4],
    /// INSEE code.
    pub commune: Option<String>,
    /// Inside the territory.
    pub in_territory: bool,
    /// Address.
    pub address: Option<Value>,
    /// Contacts.
    pub contacts: Option<Value>,
    /// Opening hours (OSM syntax).
    pub opening_hours: Option<String>,
    /// Opening hours as free text.
    pub opening_hours_text: Option<String>,
    /// Parsed opening hours.
    pub schedule: Option<opening_hours::OpeningHours>,
    /// Prices.
    pub prices: Option<Value>,
    /// Accessibility.
    pub accessibility: Option<Value>,
    /// Labels.
    pub labels: Vec<String>,
    /// Capacity.
    pub capacity: Option<Value>,
    /// Provenance.
    pub provenance: Provenance,
    /// Version.
    pub version: i32,
    /// draft, published or archived.
    pub status: String,
    /// Soft deletion time.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Organisation that owns it.
    pub owner: Option<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Theme codes.
    pub themes: Vec<String>,
    /// Totems it is a corrélat of (indexes).
    pub totems: Vec<usize>,
    /// Its corrélats when a totem (indexes, in order).
    pub correlates: Vec<usize>,
    /// Event occurrences, by start.
    pub occurrences: Vec<Occurrence>,
    /// Route facts.
    pub route: Option<RouteInfo>,
    /// Media.
    pub media: Vec<MediaItem>,
    /// Folded name, for ordering.
    pub sort_name: String,
}

impl OfferRecord {
    /// The footprint or line as RFC 7946 GeoJSON, written when asked for (not kept: it would
    /// double the memory of the catalog).
    pub fn geometry_json(&self) -> Option<Value> {
        self.geometry.as_ref().map(seed::geometry::to_geojson)
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
        match &self.accessibility {
            Some(Value::Object(o)) => {
                o.get("wheelchair").and_then(Value::as_str) == Some("yes")
                    || o.get("tourismeHandicap").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
            }
            _ => false,
        }
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
    pub geometry_json: Value,
    /// Projected to the Web Mercator unit square, for tiles.
    pub mercator: Geometry<f64>,
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
    /// Whether the commune's polygon meets a box `(west, south, east, north)`.
    pub fn meets(&self, bbox: [f64; 4]) -> bool {
        geometry_meets(&self.geometry, self.bbox, bbox)
    }
}

/// Whether a point lies in a box (edges included).
pub fn point_inside(p: [f64; 2], b: [f64; 4]) -> bool {
    p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
}

/// Whether a geometry with bounding box `own` meets the box `b`: the boxes first (cheap), then
/// the shapes themselves.
fn geometry_meets(g: &Geometry<f64>, own: [f64; 4], b: [f64; 4]) -> bool {
    use geo::Intersects;
    let boxes_meet = own[0] <= b[2] && own[2] >= b[0] && own[1] <= b[3] && own[3] >= b[1];
    boxes_meet && g.intersects(&geo::Rect::new(geo::coord! { x: b[0], y: b[1] }, geo::coord! { x: b[2], y: b[3] }))
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
    /// Totem index.
    pub totem: Option<usize>,
}

/// An immutable snapshot of the published offer.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Database catalog version this snapshot reflects.
    pub version: i64,
    /// When it was built.
    pub built_at: DateTime<Utc>,
    /// Offers, in a stable order (folded name, id).
    pub offers: Vec<OfferRecord>,
    /// Communes by name.
    pub communes: Vec<CommuneRecord>,
    /// Themes in display order.
    pub themes: Vec<ThemeRecord>,
    by_id: HashMap<String, usize>,
    by_slug: HashMap<String, usize>,
    commune_by_code: HashMap<String, usize>,
    points: RTree<GeomWithData<[f64; 2], usize>>,
    boxes: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    text: TextIndex,
}

impl Catalog {
    /// An offer by id.
    pub fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// An offer by slug.
    pub fn by_slug(&self, slug: &str) -> Option<usize> {
        self.by_slug.get(slug).copied()
    }

    /// A commune by INSEE code.
    pub fn commune(&self, code: &str) -> Option<&CommuneRecord> {
        self.commune_by_code.get(code).map(|i| &self.communes[*i])
    }

    /// A theme by code.
    pub fn theme(&self, code: &str) -> Option<&ThemeRecord> {
        self.themes.iter().find(|t| t.code == code)
    }

    /// Offers whose bounding box intersects `(west, south, east, north)`, in catalog order.
    pub fn intersecting(&self, bbox: [f64; 4]) -> Vec<usize> {
        let envelope = rstar::AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut out: Vec<usize> = self.boxes.locate_in_envelope_intersecting(&envelope).map(|b| b.data).collect();
        out.sort_unstable();
        out
    }

    /// Reads the published offer from the database.
    pub async fn load(db: &DatabaseConnection) -> Result<Catalog> {
        let version = seed::load::catalog_version(db).await?;
        // Rows are converted as they stream in, so the database rows of the whole offer are never
        // all in memory at once (at 500,000 offers they would be gigabytes the allocator keeps).
        let mut records = Records::default();
        let mut rows = Vec::new();
        let mut stream = Offer::find()
            .filter(offer::Column::Status.eq("published"))
            .filter(offer::Column::DeletedAt.is_null())
            .stream(db)
            .await?;
        while let Some(row) = futures::StreamExt::next(&mut stream).await {
            rows.push(records.convert(row?)?);
        }
        drop(stream);
        let theme_links = OfferTheme::find().all(db).await?;
        let correlates = OfferCorrelate::find().all(db).await?;
        let occurrences = EventOccurrence::find().order_by_asc(event_occurrence::Column::StartsAt).all(db).await?;
        let routes = Route::find().all(db).await?;
        let stages = RouteStage::find().all(db).await?;
        let media = Media::find().order_by_asc(media::Column::Position).all(db).await?;
        let communes = Commune::find().all(db).await?;
        let themes = Theme::find().all(db).await?;
        Catalog::build(
            version,
            Rows { offers: rows, theme_links, correlates, occurrences, routes, stages, media, communes, themes },
        )
    }

    /// A snapshot of one offer whatever its status (a draft, an archived or deleted offer), for
    /// those who may edit it; relations to other offers are left out.
    pub async fn load_one(db: &DatabaseConnection, id: &str) -> Result<Option<(Catalog, usize)>> {
        let Some(row) = Offer::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
        let rows = Rows {
            offers: vec![Records::default().convert(row)?],
            theme_links: OfferTheme::find().filter(entities::offer_theme::Column::OfferId.eq(id)).all(db).await?,
            occurrences: EventOccurrence::find()
                .filter(event_occurrence::Column::OfferId.eq(id))
                .order_by_asc(event_occurrence::Column::StartsAt)
                .all(db)
                .await?,
            routes: Route::find().filter(entities::route::Column::OfferId.eq(id)).all(db).await?,
            media: Media::find()
                .filter(media::Column::OfferId.eq(id))
                .order_by_asc(media::Column::Position)
                .all(db)
                .await?,
            communes: Commune::find().all(db).await?,
            themes: Theme::find().all(db).await?,
            ..Rows::default()
        };
        let catalog = Catalog::build(seed::load::catalog_version(db).await?, rows)?;
        Ok(catalog.by_id(id).map(|i| (catalog, i)))
    }

    /// Builds the snapshot and its indexes from database rows.
    pub fn build(version: i64, rows: Rows) -> Result<Catalog> {
        let mut offers = rows.offers;
        offers.sort_by(|a, b| a.sort_name.cmp(&b.sort_name).then_with(|| a.id.cmp(&b.id)));
        let by_id: HashMap<String, usize> = offers.iter().enumerate().map(|(i, o)| (o.id.clone(), i)).collect();
        let by_slug = offers.iter().enumerate().map(|(i, o)| (o.slug.clone(), i)).collect();

        for link in rows.theme_links {
            if let Some(&i) = by_id.get(&link.offer_id) {
                offers[i].themes.push(link.theme_code);
            }
        }
        let mut correlates = rows.correlates;
        correlates.sort_by_key(|c| c.position);
        for c in correlates {
            if let (Some(&t), Some(&o)) = (by_id.get(&c.totem_id), by_id.get(&c.offer_id)) {
                offers[t].correlates.push(o);
                offers[o].totems.push(t);
            }
        }
        for occ in rows.occurrences {
            if let Some(&i) = by_id.get(&occ.offer_id) {
                offers[i].occurrences.push(Occurrence { start: occ.starts_at, end: occ.ends_at });
            }
        }
        let mut stages = rows.stages;
        stages.sort_by_key(|s| s.position);
        let mut stages_of: HashMap<String, Vec<usize>> = HashMap::new();
        for s in stages {
            if let Some(&o) = by_id.get(&s.offer_id) {
                stages_of.entry(s.route_id).or_default().push(o);
            }
        }
        for r in rows.routes {
            if let Some(&i) = by_id.get(&r.offer_id) {
                offers[i].route = Some(RouteInfo {
                    stages: stages_of.remove(&r.offer_id).unwrap_or_default(),
                    length_meters: r.length_meters,
                    practices: strings(&r.practices),
                    difficulty: r.difficulty,
                    line_precision: r.line_precision,
                });
            }
        }
        for m in rows.media {
            if let Some(&i) = by_id.get(&m.offer_id) {
                offers[i].media.push(MediaItem {
                    id: m.id,
                    kind: m.kind,
                    url: m.url,
                    title: Texts::from_json(m.title.as_ref()),
                    licence: m.licence,
                    credit: m.credit,
                    mime_type: m.mime_type,
                });
            }
        }
        for o in &mut offers {
            o.themes.sort();
        }

        let mut communes: Vec<CommuneRecord> = rows
            .communes
            .into_iter()
            .map(|c| {
                let json: Value = serde_json::from_str(&c.geometry)
                    .map_err(|e| Error::Internal(format!("commune {} geometry: {e}", c.insee)))?;
                let geometry =
                    seed::geometry::parse(&json).map_err(|e| Error::Internal(format!("commune {}: {e}", c.insee)))?;
                Ok(CommuneRecord {
                    postcodes: strings(&c.postcodes),
                    geometry_json: seed::geometry::to_geojson(&geometry),
                    mercator: crate::tiles::mercator::project_geometry(&geometry),
                    geometry,
                    point: [c.lon, c.lat],
                    bbox: [c.min_lon, c.min_lat, c.max_lon, c.max_lat],
                    insee: c.insee,
                    name: c.name,
                    population: c.population,
                    source: c.source,
                    licence: c.licence,
                })
            })
            .collect::<Result<_>>()?;
        communes.sort_by_key(|a| text::tokens(&a.name));
        let commune_by_code = communes.iter().enumerate().map(|(i, c)| (c.insee.clone(), i)).collect();

        let mut themes_rows = rows.themes;
        themes_rows.sort_by_key(|t| t.position);
        let themes = themes_rows
            .into_iter()
            .map(|t| ThemeRecord {
                code: t.code,
                name: Texts::from_json(Some(&t.name)),
                description: Texts::from_json(Some(&t.description)),
                color: t.color,
                totem: t.totem_offer_id.and_then(|id| by_id.get(&id).copied()),
            })
            .collect();

        let points = RTree::bulk_load(offers.iter().enumerate().map(|(i, o)| GeomWithData::new(o.point, i)).collect());
        let boxes = RTree::bulk_load(
            offers
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    GeomWithData::new(Rectangle::from_corners([o.bbox[0], o.bbox[1]], [o.bbox[2], o.bbox[3]]), i)
                })
                .collect(),
        );
        let mut text = TextIndex::default();
        for (i, o) in offers.iter().enumerate() {
            for t in o.name.values() {
                text.add(i, Field::Name, t);
            }
            for t in o.short_description.values().chain(o.description.values()) {
                text.add(i, Field::Body, t);
            }
        }
        Ok(Catalog {
            version,
            built_at: Utc::now(),
            offers,
            communes,
            themes,
            by_id,
            by_slug,
            commune_by_code,
            points,
            boxes,
            text,
        })
    }
}

/// Converts offer rows to catalog records, parsing each opening-hours expression and keeping
/// each provenance text once however many offers share them.
#[derive(Default)]
pub struct Records {
    schedules: HashMap<String, Option<opening_hours::OpeningHours>>,
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

    /// Converts one row.
    pub fn convert(&mut self, row: offer::Model) -> Result<OfferRecord> {
        let schedule = match &row.opening_hours {
            Some(h) => self.schedules.entry(h.clone()).or_insert_with(|| seed::hours::parse(h).ok()).clone(),
            None => None,
        };
        let (source, licence, attribution) =
            (self.intern(&row.source), self.intern(&row.source_licence), self.intern(&row.source_attribution));
        let mut r = record_from_row(row)?;
        r.schedule = schedule;
        r.provenance.source = source;
        r.provenance.licence = licence;
        r.provenance.attribution = attribution;
        Ok(r)
    }
}

/// The rows a snapshot is built from.
#[derive(Debug, Default)]
pub struct Rows {
    /// Published offers, converted (see [`Records`]).
    pub offers: Vec<OfferRecord>,
    /// Offer themes.
    pub theme_links: Vec<entities::offer_theme::Model>,
    /// Corrélats.
    pub correlates: Vec<entities::offer_correlate::Model>,
    /// Occurrences.
    pub occurrences: Vec<event_occurrence::Model>,
    /// Routes.
    pub routes: Vec<entities::route::Model>,
    /// Route stages.
    pub stages: Vec<entities::route_stage::Model>,
    /// Media.
    pub media: Vec<media::Model>,
    /// Communes.
    pub communes: Vec<entities::commune::Model>,
    /// Themes.
    pub themes: Vec<entities::theme::Model>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn record_from_row(m: offer::Model) -> Result<OfferRecord> {
    let geometry = match &m.geometry {
        Some(text) => {
            let json: Value =
                serde_json::from_str(text).map_err(|e| Error::Internal(format!("offer {} geometry: {e}", m.id)))?;
            Some(seed::geometry::parse(&json).map_err(|e| Error::Internal(format!("offer {}: {e}", m.id)))?)
        }
        None => None,
    };
    let name = Texts::from_json(Some(&m.name));
    let sort_name = name.get(Lang::Fr).map(|(t, _)| text::tokens(t).join(" ")).unwrap_or_default();
    Ok(OfferRecord {
        schedule: None,
        mercator: geometry.as_ref().map(crate::tiles::mercator::project_geometry),
        geometry,
        short_description: Texts::from_json(m.short_description.as_ref()),
        description: Texts::from_json(m.description.as_ref()),
        classes: strings(&m.classes),
        labels: strings(&m.labels),
        point: [m.lon, m.lat],
        bbox: [m.min_lon, m.min_lat, m.max_lon, m.max_lat],
        provenance: Provenance {
            source: Arc::from(m.source),
            source_id: m.source_id,
            licence: Arc::from(m.source_licence),
            attribution: Arc::from(m.source_attribution),
            url: m.source_url,
            updated_at: m.source_updated_at,
        },
        id: m.id,
        slug: m.slug,
        kind: m.kind,
        is_totem: m.is_totem,
        name,
        geo_precision: m.geo_precision,
        commune: m.commune_insee,
        in_territory: m.in_territory,
        address: m.address,
        contacts: m.contacts,
        opening_hours: m.opening_hours,
        opening_hours_text: m.opening_hours_text,
        prices: m.prices,
        accessibility: m.accessibility,
        capacity: m.capacity,
        version: m.version,
        status: m.status,
        deleted_at: m.deleted_at,
        owner: m.owner,
        created_at: m.created_at,
        updated_at: m.updated_at,
        themes: Vec::new(),
        totems: Vec::new(),
        correlates: Vec::new(),
        occurrences: Vec::new(),
        route: None,
        media: Vec::new(),
        sort_name,
    })
}

/// The current snapshot, swapped atomically when the database changes.
pub struct CatalogHandle {
    current: ArcSwap<Catalog>,
    reload: Mutex<()>,
}

impl CatalogHandle {
    /// Wraps a first snapshot.
    pub fn new(catalog: Catalog) -> CatalogHandle {
        CatalogHandle { current: ArcSwap::from_pointee(catalog), reload: Mutex::new(()) }
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Rebuilds from the database and swaps the snapshot in, unless a newer one is already there.
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<i64> {
        let _one_at_a_time = self.reload.lock().await;
        let catalog = Catalog::load(db).await?;
        let version = catalog.version;
        if version >= self.current.load().version {
            self.current.store(Arc::new(catalog));
        }
        Ok(version)
    }
}
