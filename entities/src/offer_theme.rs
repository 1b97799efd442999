//! Which themes an offer belongs to.

use sea_orm::entity::prelude::*;

/// A link between an offer and a theme.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offer_themes")]
pub struct Model {
    /// The offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: String,
    /// The theme code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub theme_code: String,
}

/// Relations of the link.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
