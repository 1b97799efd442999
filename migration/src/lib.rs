//! The database schema of the tourist-offer API, as sea-orm migrations for SQLite and PostgreSQL.
//!
//! Checked enumerations are `CHECK` constraints, relations are foreign keys, and geometry is
//! GeoJSON text plus plain bounding-box columns so nothing depends on PostGIS. One difference
//! between the two: PostgreSQL stores an event's occurrences as two arrays in one row of
//! `event_dates`, behind a view `event_occurrences` of one row per occurrence; SQLite keeps the
//! rows.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_communes;
mod m20261125_000002_create_offers;
mod m20261125_000003_create_themes;
mod m20261125_000004_create_offer_links;
mod m20261125_000005_create_routes;
mod m20261125_000006_create_qr_codes;
mod m20261125_000007_create_api_keys;
mod m20261125_000008_create_revisions;
mod m20261125_000009_create_catalog_state;
mod m20261125_000010_add_offers_catalog_version;
mod m20261127_000011_create_catalog_changes;
mod m20261127_000012_add_offers_published_once;
mod m20261127_000013_add_classification_and_notes;
mod m20261128_000014_check_occurrence_offers_per_statement;
mod m20261206_000015_create_import_digests;
mod m20261207_000016_key_occurrences_by_offer_and_start;
mod m20261207_000017_store_event_dates_as_arrays;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_communes::Migration),
            Box::new(m20261125_000002_create_offers::Migration),
            Box::new(m20261125_000003_create_themes::Migration),
            Box::new(m20261125_000004_create_offer_links::Migration),
            Box::new(m20261125_000005_create_routes::Migration),
            Box::new(m20261125_000006_create_qr_codes::Migration),
            Box::new(m20261125_000007_create_api_keys::Migration),
            Box::new(m20261125_000008_create_revisions::Migration),
            Box::new(m20261125_000009_create_catalog_state::Migration),
            Box::new(m20261125_000010_add_offers_catalog_version::Migration),
            Box::new(m20261127_000011_create_catalog_changes::Migration),
            Box::new(m20261127_000012_add_offers_published_once::Migration),
            Box::new(m20261127_000013_add_classification_and_notes::Migration),
            Box::new(m20261128_000014_check_occurrence_offers_per_statement::Migration),
            Box::new(m20261206_000015_create_import_digests::Migration),
            Box::new(m20261207_000016_key_occurrences_by_offer_and_start::Migration),
            Box::new(m20261207_000017_store_event_dates_as_arrays::Migration),
        ]
    }
}

/// Runs raw statements in order (the migrations whose SQL sea-query does not express).
pub(crate) async fn execute_all(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    for statement in statements {
        manager.get_connection().execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// Runs raw statements in order on PostgreSQL; nothing elsewhere.
pub(crate) async fn execute_on_postgres(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    execute_all(manager, statements).await
}

/// A `CHECK (column IN (…))` constraint, the portable form of an enumeration.
pub(crate) fn one_of<T: IntoIden + 'static>(column: T, values: &[&str]) -> SimpleExpr {
    Expr::col(column).is_in(values.iter().map(|v| String::from(*v)))
}

/// Names shared by the migrations.
pub mod names {
    /// Offer kinds.
    pub const OFFER_KINDS: &[&str] = &["site", "accommodation", "event", "route", "restaurant", "activity", "service"];
    /// Offer statuses.
    pub const OFFER_STATUSES: &[&str] = &["draft", "published", "archived"];
    /// Position precisions.
    pub const GEO_PRECISIONS: &[&str] = &["exact", "approximate", "commune"];
}
