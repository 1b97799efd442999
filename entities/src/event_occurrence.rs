//! The dates of an event: one row per occurrence, keyed by its offer and start. On PostgreSQL the
//! rows are a view of `event_dates`, where each event's starts and ends are two arrays in one row
//! (`m20261207_000017`): read them here; the write path writes the arrays.

use sea_orm::entity::prelude::*;

/// One occurrence of an event offer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_occurrences")]
pub struct Model {
    /// The event offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: String,
    /// Start (one occurrence per start and offer).
    #[sea_orm(primary_key, auto_increment = false)]
    pub starts_at: DateTimeUtc,
    /// End (at or after the start).
    pub ends_at: DateTimeUtc,
}

/// Relations of an occurrence.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
