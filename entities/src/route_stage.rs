//! The ordered stages of a route.

use sea_orm::entity::prelude::*;

/// One stage: the offer visited at a position of the route.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "route_stages")]
pub struct Model {
    /// The route offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub route_id: String,
    /// Position, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    /// The offer visited.
    pub offer_id: String,
}

/// Relations of a stage.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
