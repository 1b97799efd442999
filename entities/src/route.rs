//! Route details of an offer of kind `route`: length, practices, difficulty.

use sea_orm::entity::prelude::*;

use crate::values::Codes;
use crate::vocab::{Difficulty, LinePrecision};

/// The itinerary facts of a route offer (its line is the offer's geometry).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "routes")]
pub struct Model {
    /// The route offer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: String,
    /// Length of the line in metres.
    pub length_meters: f64,
    /// Practices (walking, cycling-road, mtb, hybrid-bike, horse-riding, river).
    pub practices: Codes,
    /// How hard it is.
    pub difficulty: Option<Difficulty>,
    /// A real track or a line through the stages.
    pub line_precision: LinePrecision,
}

/// Relations of a route.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
