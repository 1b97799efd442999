//! The history of an offer: every change, who made it and what it was before.

use sea_orm::entity::prelude::*;

use crate::vocab::RevisionAction;

/// One change of an offer.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "revisions")]
pub struct Model {
    /// Row id, increasing.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The offer.
    pub offer_id: String,
    /// The offer's version after this change.
    pub version: i32,
    /// What the change was.
    pub action: RevisionAction,
    /// Who made it (key name, `seed`, `import`).
    pub actor: String,
    /// The offer before the change (absent for a creation).
    pub before: Option<Json>,
    /// When.
    pub created_at: DateTimeUtc,
    /// The catalog version that committed it (absent for changes older than the column).
    pub catalog_version: Option<i64>,
    /// Why, when the writer said (e.g. an importer withdrawing a classification).
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
}

/// Relations of a revision.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
