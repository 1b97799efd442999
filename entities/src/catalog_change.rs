//! One row per catalog version, written in the transaction that takes the version: what an API
//! instance reads to catch up with the others (the offers of a version are in `revisions`).

use sea_orm::entity::prelude::*;

use crate::vocab::ChangeScope;

/// A committed catalog version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_changes")]
pub struct Model {
    /// The version, unique and in commit order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    /// Offers changed, or reference data (communes, themes).
    pub scope: ChangeScope,
    /// How many offers changed.
    pub offers: i32,
    /// Commit time.
    pub created_at: DateTimeUtc,
}

/// Relations of a change.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
