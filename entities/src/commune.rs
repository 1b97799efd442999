//! A commune of the territory (INSEE code, names, population, polygon).

use sea_orm::entity::prelude::*;

use crate::values::Codes;

/// One of the 47 communes of La Porte du Hainaut.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "communes")]
pub struct Model {
    /// INSEE code (five characters, e.g. `59632` for Wallers).
    #[sea_orm(primary_key, auto_increment = false)]
    pub insee: String,
    /// Official name.
    pub name: String,
    /// Postcodes.
    pub postcodes: Codes,
    /// Municipal population.
    pub population: i64,
    /// Polygon as a GeoJSON geometry (RFC 7946, WGS84).
    #[sea_orm(column_type = "Text")]
    pub geometry: String,
    /// Bounding box, west.
    pub min_lon: f64,
    /// Bounding box, south.
    pub min_lat: f64,
    /// Bounding box, east.
    pub max_lon: f64,
    /// Bounding box, north.
    pub max_lat: f64,
    /// A point inside the polygon, longitude.
    pub lon: f64,
    /// A point inside the polygon, latitude.
    pub lat: f64,
    /// Where the record comes from.
    pub source: String,
    /// Licence of the source data.
    pub licence: String,
}

/// Relations of a commune.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
