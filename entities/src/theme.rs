//! A theme of the tourism strategy, each entered through its totem.

use sea_orm::entity::prelude::*;

use crate::values::Texts;

/// One of the five themes (discovery, nature, sport, well-being, waterways).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "themes")]
pub struct Model {
    /// Stable code, e.g. `decouverte`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Multilingual name.
    pub name: Texts,
    /// Multilingual description.
    pub description: Texts,
    /// Display order.
    pub position: i32,
    /// The totem offer of this theme.
    pub totem_offer_id: Option<String>,
    /// Map colour, `#rrggbb`.
    pub color: String,
}

/// Relations of a theme.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
