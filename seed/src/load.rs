//! Writes the territory into the database: an upsert keyed by `(source, source_id)`, in one
//! transaction, that changes nothing when the data has not changed.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use entities::{
    catalog_state, commune, offer, offer_correlate, offer_theme, prelude::*, revision, route, route_stage, theme,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::geometry;
use crate::territory::{OfferRecord, Territory, commune_provenance};

/// Namespace of the offer UUIDs derived from `(source, source_id)`.
pub const OFFER_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2b4a_8c3e_4f57_9a0b_5e7d_c4b3_a291);

/// The stable id of a record of a source: the same on every database, forever.
pub fn offer_id(source: &str, source_id: &str) -> String {
    Uuid::new_v5(&OFFER_NAMESPACE, format!("{source}\u{1f}{source_id}").as_bytes()).to_string()
}

/// Why the territory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database refused a statement.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The embedded data is broken.
    #[error(transparent)]
    Territory(#[from] crate::territory::TerritoryError),
    /// A geometry could not be measured.
    #[error(transparent)]
    Geometry(#[from] geometry::GeometryError),
    /// A record could not be serialised for its revision.
    #[error("revision: {0}")]
    Json(#[from] serde_json::Error),
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

/// Loads the territory into the database in one transaction; idempotent.
pub async fn load(db: &DatabaseConnection, territory: &Territory) -> Result<LoadReport, LoadError> {
    let txn = db.begin().await?;
    let mut report = LoadReport::default();
    load_communes(&txn, territory, &mut report).await?;
    let ids = load_offers(&txn, territory, &mut report).await?;
    load_themes(&txn, territory, &ids, &mut report).await?;
    load_links(&txn, territory, &ids, &mut report).await?;
    if report.changed() {
        bump_catalog_version(&txn).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Increments the catalog version so API instances rebuild their snapshot.
pub async fn bump_catalog_version<C: ConnectionTrait>(db: &C) -> Result<i64, sea_orm::DbErr> {
    let current = CatalogState::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("catalog_state row".into()))?;
    let next = current.version + 1;
    let mut active = current.into_active_model();
    active.version = Set(next);
    active.updated_at = Set(Utc::now());
    active.update(db).await?;
    Ok(next)
}

async fn load_communes<C: ConnectionTrait>(db: &C, t: &Territory, report: &mut LoadReport) -> Result<(), LoadError> {
    let existing: HashMap<String, commune::Model> =
        Commune::find().all(db).await?.into_iter().map(|c| (c.insee.clone(), c)).collect();
    let (source, licence) = commune_provenance();
    for c in &t.communes {
        let [min_lon, min_lat, max_lon, max_lat] = geometry::bbox(&c.geometry)?;
        let wanted = commune::Model {
            insee: c.insee.clone(),
            name: c.name.clone(),
            postcodes: json!(c.postcodes),
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
                commune::ActiveModel::from(wanted).reset_all().update(db).await?;
                report.updated += 1;
            }
            None => {
                commune::ActiveModel::from(wanted).insert(db).await?;
                report.created += 1;
            }
        }
    }
    Ok(())
}

/// The offer row a record should be, keeping what the database owns (id, status, version, times).
fn wanted_offer(r: &OfferRecord, current: Option<&offer::Model>) -> Result<offer::Model, LoadError> {
    let now = Utc::now();
    let (geometry, bbox) = match &r.geometry {
        Some(g) => (Some(geometry::to_geojson(g).to_string()), geometry::bbox(g)?),
        None => (None, [r.point.0, r.point.1, r.point.0, r.point.1]),
    };
    Ok(offer::Model {
        id: offer_id(&r.source, &r.source_id),
        slug: r.slug.clone(),
        kind: r.kind.to_owned(),
        classes: json!(r.classes),
        is_totem: r.is_totem,
        name: r.name.clone(),
        short_description: r.short_description.clone(),
        description: current.and_then(|c| c.description.clone()),
        lon: r.point.0,
        lat: r.point.1,
        geo_precision: r.geo_precision.to_owned(),
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
        labels: json!(r.labels),
        capacity: current.and_then(|c| c.capacity.clone()),
        source: r.source.clone(),
        source_id: r.source_id.clone(),
        source_licence: r.licence.clone(),
        source_attribution: r.attribution.clone(),
        source_url: None,
        source_updated_at: None,
        owner: current.and_then(|c| c.owner.clone()),
        status: current.map_or_else(|| "published".to_owned(), |c| c.status.clone()),
        version: current.map_or(1, |c| c.version),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: current.map_or(now, |c| c.updated_at),
        deleted_at: current.and_then(|c| c.deleted_at),
        catalog_version: current.map_or(0, |c| c.catalog_version),
    })
}

async fn load_offers<C: ConnectionTrait>(
    db: &C,
    t: &Territory,
    report: &mut LoadReport,
) -> Result<HashMap<(String, String), String>, LoadError> {
    let mut ids = HashMap::new();
    for r in &t.offers {
        let current = Offer::find()
            .filter(offer::Column::Source.eq(r.source.as_str()))
            .filter(offer::Column::SourceId.eq(r.source_id.as_str()))
            .one(db)
            .await?;
        let mut wanted = wanted_offer(r, current.as_ref())?;
        ids.insert((r.source.clone(), r.source_id.clone()), wanted.id.clone());
        match current {
            Some(current) if current == wanted => report.unchanged += 1,
            Some(current) => {
                wanted.version = current.version + 1;
                wanted.updated_at = Utc::now();
                record_revision(db, &wanted, "seed", Some(&current)).await?;
                offer::ActiveModel::from(wanted).reset_all().update(db).await?;
                report.updated += 1;
            }
            None => {
                offer::ActiveModel::from(wanted.clone()).insert(db).await?;
                record_revision(db, &wanted, "seed", None).await?;
                report.created += 1;
            }
        }
    }
    Ok(ids)
}

/// Writes a revision: the offer's version after the change and what it was before.
pub async fn record_revision<C: ConnectionTrait>(
    db: &C,
    after: &offer::Model,
    actor: &str,
    before: Option<&offer::Model>,
) -> Result<(), LoadError> {
    let action = if before.is_some() { "update" } else { "create" };
    revision::ActiveModel {
        offer_id: Set(after.id.clone()),
        version: Set(after.version),
        action: Set(if actor == "seed" { "seed".to_owned() } else { action.to_owned() }),
        actor: Set(actor.to_owned()),
        before: Set(before.map(serde_json::to_value).transpose()?),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn load_themes<C: ConnectionTrait>(
    db: &C,
    t: &Territory,
    ids: &HashMap<(String, String), String>,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let existing: HashMap<String, theme::Model> =
        Theme::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect();
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
                theme::ActiveModel::from(wanted).reset_all().update(db).await?;
                report.updated += 1;
            }
            None => {
                theme::ActiveModel::from(wanted).insert(db).await?;
                report.created += 1;
            }
        }
    }
    Ok(())
}

async fn load_links<C: ConnectionTrait>(
    db: &C,
    t: &Territory,
    ids: &HashMap<(String, String), String>,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let id = |k: &(String, String)| ids.get(k).cloned().unwrap_or_default();
    // Themes of each offer.
    let existing: BTreeSet<(String, String)> =
        OfferTheme::find().all(db).await?.into_iter().map(|m| (m.offer_id, m.theme_code)).collect();
    for r in &t.offers {
        let offer_id = id(&(r.source.clone(), r.source_id.clone()));
        for theme in &r.themes {
            if existing.contains(&(offer_id.clone(), (*theme).to_owned())) {
                report.unchanged += 1;
            } else {
                offer_theme::ActiveModel { offer_id: Set(offer_id.clone()), theme_code: Set((*theme).to_owned()) }
                    .insert(db)
                    .await?;
                report.created += 1;
            }
        }
    }
    // Corrélats, in the order of the territory.
    let existing: HashMap<(String, String), i32> =
        OfferCorrelate::find().all(db).await?.into_iter().map(|m| ((m.totem_id, m.offer_id), m.position)).collect();
    let mut positions: HashMap<String, i32> = HashMap::new();
    for (totem, offer) in &t.correlates {
        let (totem_id, offer_id) = (id(totem), id(offer));
        let position = positions.entry(totem_id.clone()).or_insert(0);
        *position += 1;
        let link =
            offer_correlate::Model { totem_id: totem_id.clone(), offer_id: offer_id.clone(), position: *position };
        match existing.get(&(totem_id, offer_id)) {
            Some(p) if *p == link.position => report.unchanged += 1,
            Some(_) => {
                offer_correlate::ActiveModel::from(link).reset_all().update(db).await?;
                report.updated += 1;
            }
            None => {
                offer_correlate::ActiveModel::from(link).insert(db).await?;
                report.created += 1;
            }
        }
    }
    // Routes and their stages.
    for r in &t.offers {
        let Some(details) = &r.route else { continue };
        let route_id = id(&(r.source.clone(), r.source_id.clone()));
        let wanted = route::Model {
            offer_id: route_id.clone(),
            length_meters: details.length_meters,
            practices: json!(details.practices),
            difficulty: None,
            line_precision: details.line_precision.to_owned(),
        };
        match Route::find_by_id(route_id.clone()).one(db).await? {
            Some(current) if current == wanted => report.unchanged += 1,
            Some(_) => {
                route::ActiveModel::from(wanted).reset_all().update(db).await?;
                report.updated += 1;
            }
            None => {
                route::ActiveModel::from(wanted).insert(db).await?;
                report.created += 1;
            }
        }
        let stages: Vec<String> = details.stages.iter().map(&id).collect();
        let current: Vec<String> = RouteStage::find()
            .filter(route_stage::Column::RouteId.eq(route_id.as_str()))
            .all(db)
            .await?
            .into_iter()
            .map(|s| s.offer_id)
            .collect();
        if current == stages {
            report.unchanged += 1;
            continue;
        }
        RouteStage::delete_many().filter(route_stage::Column::RouteId.eq(route_id.as_str())).exec(db).await?;
        for (i, offer_id) in stages.into_iter().enumerate() {
            route_stage::ActiveModel {
                route_id: Set(route_id.clone()),
                position: Set(i as i32 + 1),
                offer_id: Set(offer_id),
            }
            .insert(db)
            .await?;
        }
        report.updated += 1;
    }
    Ok(())
}

/// Drops nothing: only used by tests to make sure `catalog_state` exists.
pub async fn catalog_version<C: ConnectionTrait>(db: &C) -> Result<i64, sea_orm::DbErr> {
    Ok(CatalogState::find_by_id(1).one(db).await?.map_or(0, |s: catalog_state::Model| s.version))
}
