//! The digest of the bytes an imported offer was last read from: a re-import that meets the
//! same bytes again knows the object without parsing it.

use sea_orm::entity::prelude::*;

/// One imported offer's digest, keyed like the offer's `(source, source_id)`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_digests")]
pub struct Model {
    /// The importer (`datatourisme`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    /// The object's identifier in that source.
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_id: String,
    /// The importer's digest of the object's bytes and of what else decides how it maps.
    pub digest: Vec<u8>,
    /// The object's own last update, as read from those bytes.
    pub source_updated_at: DateTimeUtc,
}

/// The digests stand alone: an offer's row is matched by `(source, source_id)` when read.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
