//! Writes the territory into the database through the one write path: an upsert keyed by
//! `(source, source_id)` in one unit of work, whose revisions say `seed`, and which writes nothing
//! (not even a catalog version) when the data has not changed.

use std::collections::HashMap;

use chrono::Utc;
use entities::domain::geometry;
use entities::domain::ids::offer_id;
use entities::prelude::*;
use entities::values::Codes;
use entities::vocab::{GeoPrecision, LinePrecision, OfferKind, OfferStatus, RevisionAction};
use entities::write::{SlugRule, WriteError, Writer};
use entities::{commune, offer, route, theme};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel};

use crate::territory::{OfferRecord, Territory, commune_provenance};

/// Why the territory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database refused a statement.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The write path refused a record.
    #[error("write: {0}")]
    Write(#[from] WriteError),
    /// The embedded data is broken.
    #[error(transparent)]
    Territory(#[from] crate::territory::TerritoryError),
    /// A geometry could not be measured.
    #[error(transparent)]
    Geometry(#[from] geometry::GeometryError),
}

/// What a load did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows inserted.
    pub created: usize,
    /// Rows changed.
    pub updated: usize,
    /// Rows already as they should be.
    pub unchanged: usize,
}

impl LoadReport {
    /// Whether the database changed.
    pub fn changed(&self) -> bool {
        self.created + self.updated > 0
    }
}

/// Loads the territory into the database in one unit of work; idempotent.
pub async fn load(db: &DatabaseConnection, territory: &Territory) -> Result<LoadReport, LoadError> {
    let mut w = Writer::begin(db, "seed", "").await?;
    let mut report = LoadReport::default();
    load_communes(&mut w, territory, &mut report).await?;
    let (ids, rows, written) = load_offers(&mut w, territory, &mut report).await?;
    // Themes name their totem offers; offers' theme links name the themes: offers, themes, links.
    load_themes(&mut w, territory, &ids, &mut report).await?;
    load_links(&mut w, territory, &ids, rows, &written, &mut report).await?;
    w.commit().await?;
    Ok(report)
}

async fn load_communes(w: &mut Writer, t: &Territory, report: &mut LoadReport) -> Result<(), LoadError> {
    let existing: HashMap<String, commune::Model> =
        Commune::find().all(w.db()).await?.into_iter().map(|c| (c.insee.clone(), c)).collect();
    let (source, licence) = commune_provenance();
    for c in &t.communes {
        let [min_lon, min_lat, max_lon, max_lat] = geometry::bbox(&c.geometry)?;
        let wanted = commune::Model {
            insee: c.insee.clone(),
            name: c.name.clone(),
            postcodes: Codes(c.postcodes.clone()),
            population: c.population,
            geometry: geometry::to_geojson(&c.geometry).to_string(),
            min_lon,
            min_lat,
            max_lon,
            max_lat,
            lon: c.point.0,
            lat: c.point.1,
            source: source.to_owned(),
            licence: licence.to_owned(),
        };
        match existing.get(&c.insee) {
            Some(current) if *current == wanted => report.unchanged += 1,
            Some(_) => {
                commune::ActiveModel::from(wanted).reset_all().update(w.db()).await?;
                w.reference_changed();
                report.updated += 1;
            }
            None => {
                commune::ActiveModel::from(wanted).insert(w.db()).await?;
                w.reference_changed();
                report.created += 1;
            }
        }
    }
    Ok(())
}

/// The offer row a record should be, keeping what the database and the editors own (id, status,
/// version, times, the fields the territory does not give).
fn wanted_offer(r: &OfferRecord, current: Option<&offer::Model>) -> Result<offer::Model, LoadError> {
    let now = Utc::now();
    let (geometry, bbox) = match &r.geometry {
        Some(g) => (Some(geometry::to_geojson(g).to_string()), geometry::bbox(g)?),
        None => (None, [r.point.0, r.point.1, r.point.0, r.point.1]),
    };
    Ok(offer::Model {
        id: offer_id(&r.source, &r.source_id),
        slug: current.map_or_else(|| r.slug.clone(), |c| c.slug.clone()),
        kind: kind(r.kind),
        classes: r.classes.iter().copied().collect(),
        is_totem: r.is_totem,
        name: r.name.clone(),
        short_description: r.short_description.clone(),
        description: current.and_then(|c| c.description.clone()),
        lon: r.point.0,
        lat: r.point.1,
        geo_precision: precision(r.geo_precision),
        geometry,
        min_lon: bbox[0],
        min_lat: bbox[1],
        max_lon: bbox[2],
        max_lat: bbox[3],
        commune_insee: Some(r.commune_insee.clone()),
        in_territory: true,
        address: r.address.clone(),
        contacts: r.contacts.clone(),
        opening_hours: current.and_then(|c| c.opening_hours.clone()),
        opening_hours_text: current.and_then(|c| c.opening_hours_text.clone()),
        prices: current.and_then(|c| c.prices.clone()),
        accessibility: current.and_then(|c| c.accessibility.clone()),
        labels: r.labels.iter().copied().collect(),
        capacity: current.and_then(|c| c.capacity.clone()),
        source: r.source.clone(),
        source_id: r.source_id.clone(),
        source_licence: r.licence.clone(),
        source_attribution: r.attribution.clone(),
        source_url: None,
        source_updated_at: None,
        owner: current.and_then(|c| c.owner.clone()),
        status: current.map_or(OfferStatus::Published, |c| c.status),
        version: current.map_or(1, |c| c.version),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: current.map_or(now, |c| c.updated_at),
        deleted_at: current.and_then(|c| c.deleted_at),
        catalog_version: current.map_or(0, |c| c.catalog_version),
        published_once: current.is_some_and(|c| c.published_once),
        classification: current.and_then(|c| c.classification.clone()),
    })
}

/// Ids of the territory's records by `(source, source_id)`.
type Ids = HashMap<(String, String), String>;

async fn load_offers(
    w: &mut Writer,
    t: &Territory,
    report: &mut LoadReport,
) -> Result<(Ids, Vec<offer::Model>, std::collections::HashSet<String>), LoadError> {
    let ids: Ids =
        t.offers.iter().map(|r| ((r.source.clone(), r.source_id.clone()), offer_id(&r.source, &r.source_id))).collect();
    // Every record first, so that the links below only name rows that exist.
    let mut rows = Vec::with_capacity(t.offers.len());
    let mut written = std::collections::HashSet::new();
    for r in &t.offers {
        let current = w.find_by_source(&r.source, &r.source_id).await?;
        let wanted = wanted_offer(r, current.as_ref())?;
        let row = match current {
            Some(current) if current == wanted => {
                report.unchanged += 1;
                current
            }
            Some(current) => {
                report.updated += 1;
                written.insert(current.id.clone());
                w.update(&current, wanted, current.version, RevisionAction::Seed).await?
            }
            None => {
                report.created += 1;
                written.insert(wanted.id.clone());
                w.create(wanted, SlugRule::Given, RevisionAction::Seed).await?
            }
        };
        rows.push(row);
    }
    Ok((ids, rows, written))
}

/// What hangs off the offers; an offer whose links changed gets a new version, so every instance
/// sees the change.
async fn load_links(
    w: &mut Writer,
    t: &Territory,
    ids: &Ids,
    rows: Vec<offer::Model>,
    written: &std::collections::HashSet<String>,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let id = |k: &(String, String)| ids.get(k).cloned().unwrap_or_default();
    let mut correlates: HashMap<String, Vec<String>> = HashMap::new();
    for (totem, o) in &t.correlates {
        correlates.entry(id(totem)).or_default().push(id(o));
    }
    for (r, row) in t.offers.iter().zip(rows) {
        let themes: Vec<String> = r.themes.iter().map(|t| (*t).to_owned()).collect();
        let mut changed = w.set_themes(&row.id, &themes).await?;
        if row.is_totem || correlates.contains_key(&row.id) {
            changed |= w.set_correlates(&row.id, correlates.get(&row.id).map_or(&[][..], Vec::as_slice)).await?;
        }
        if let Some(details) = &r.route {
            let facts = route::Model {
                offer_id: row.id.clone(),
                length_meters: details.length_meters,
                practices: details.practices.iter().copied().collect(),
                difficulty: None,
                line_precision: LinePrecision::from_code(details.line_precision).unwrap_or(LinePrecision::Schematic),
            };
            let stages: Vec<String> = details.stages.iter().map(&id).collect();
            changed |= w.set_route(facts, &stages).await?;
        }
        // Unless the row itself was written in this unit, its version moves for its links.
        if changed && !written.contains(&row.id) {
            report.updated += 1;
            w.touch(&row, row.version, RevisionAction::Seed).await?;
        }
    }
    Ok(())
}

async fn load_themes(w: &mut Writer, t: &Territory, ids: &Ids, report: &mut LoadReport) -> Result<(), LoadError> {
    let existing: HashMap<String, theme::Model> =
        Theme::find().all(w.db()).await?.into_iter().map(|m| (m.code.clone(), m)).collect();
    for th in &t.themes {
        let wanted = theme::Model {
            code: th.code.to_owned(),
            name: th.name.clone(),
            description: th.description.clone(),
            position: th.position,
            totem_offer_id: ids.get(&th.totem).cloned(),
            color: th.color.to_owned(),
        };
        match existing.get(th.code) {
            Some(current) if *current == wanted => report.unchanged += 1,
            Some(_) => {
                theme::ActiveModel::from(wanted).reset_all().update(w.db()).await?;
                w.reference_changed();
                report.updated += 1;
            }
            None => {
                theme::ActiveModel::from(wanted).into_active_model().insert(w.db()).await?;
                w.reference_changed();
                report.created += 1;
            }
        }
    }
    Ok(())
}

/// The kind of a record of the embedded data.
fn kind(code: &str) -> OfferKind {
    OfferKind::from_code(code).unwrap_or(OfferKind::Site)
}

/// The precision of a position of the embedded data.
fn precision(code: &str) -> GeoPrecision {
    GeoPrecision::from_code(code).unwrap_or(GeoPrecision::Commune)
}
