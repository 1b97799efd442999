//! QR signage codes: a short code that resolves to an offer, a route or a theme.

use sea_orm::entity::prelude::*;

/// One QR code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "qr_codes")]
pub struct Model {
    /// Short code (6 to 8 characters, no look-alikes).
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// offer, route or theme.
    pub target_kind: String,
    /// Id of the target (offer UUID or theme code).
    pub target_id: String,
    /// Creation time.
    pub created_at: DateTimeUtc,
}

/// Relations of a QR code.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
