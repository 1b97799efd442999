//! Daily scan counts of a QR code (no personal data).

use sea_orm::entity::prelude::*;

/// Scans of one code on one day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "qr_scans")]
pub struct Model {
    /// The code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The day (UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// Number of resolutions that day.
    pub count: i64,
}

/// Relations of a scan count.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
