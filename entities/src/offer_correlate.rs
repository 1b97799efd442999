//! Totem / corrélat links: the places a totem sends its visitors on to.

use sea_orm::entity::prelude::*;

/// A corrélat of a totem.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offer_correlates")]
pub struct Model {
    /// The totem offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub totem_id: String,
    /// The related offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: String,
    /// Display order among the totem's corrélats.
    pub position: i32,
}

/// Relations of the link.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
