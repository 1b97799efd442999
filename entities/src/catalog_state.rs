//! The catalog version: bumped by every committed write, polled by other API instances.

use sea_orm::entity::prelude::*;

/// The single row holding the current catalog version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_state")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Current version.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of the state row.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
