//! An offer: every place, accommodation, event, route or service of the tourist offer.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One offer. Multilingual texts are JSON objects keyed by language (`fr`, `en`, `nl`, `de`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[sea_orm(table_name = "offers")]
pub struct Model {
    /// UUID, stable forever.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// URL slug, unique.
    #[sea_orm(unique)]
    pub slug: String,
    /// site, accommodation, event, route, restaurant, activity or service.
    pub kind: String,
    /// DATAtourisme classes, a JSON array of strings.
    pub classes: Json,
    /// Whether this offer is one of the five totems.
    pub is_totem: bool,
    /// Multilingual name.
    pub name: Json,
    /// Multilingual short description.
    pub short_description: Option<Json>,
    /// Multilingual long description.
    pub description: Option<Json>,
    /// Representative point, longitude (WGS84).
    pub lon: f64,
    /// Representative point, latitude (WGS84).
    pub lat: f64,
    /// How precise the position is: exact, approximate or commune.
    pub geo_precision: String,
    /// Footprint or line as a GeoJSON geometry, when the place is more than a point.
    #[sea_orm(column_type = "Text", nullable)]
    pub geometry: Option<String>,
    /// Bounding box, west.
    pub min_lon: f64,
    /// Bounding box, south.
    pub min_lat: f64,
    /// Bounding box, east.
    pub max_lon: f64,
    /// Bounding box, north.
    pub max_lat: f64,
    /// INSEE code of the commune, for offers inside the territory.
    pub commune_insee: Option<String>,
    /// Whether the offer lies inside the territory.
    pub in_territory: bool,
    /// Postal address (`street`, `postalCode`, `locality`, `inseeCode`).
    pub address: Option<Json>,
    /// Contacts (`phones`, `emails`, `websites`).
    pub contacts: Option<Json>,
    /// Opening hours in OpenStreetMap `opening_hours` syntax.
    #[sea_orm(column_type = "Text", nullable)]
    pub opening_hours: Option<String>,
    /// Opening hours that could not be expressed in that syntax, as text.
    #[sea_orm(column_type = "Text", nullable)]
    pub opening_hours_text: Option<String>,
    /// Prices, a JSON array.
    pub prices: Option<Json>,
    /// Accessibility (`wheelchair`, `tourismeHandicap` labels).
    pub accessibility: Option<Json>,
    /// Labels, a JSON array of codes (e.g. `unesco`, `monument-historique-classe`).
    pub labels: Json,
    /// Capacity of an accommodation (`beds`, `rooms`, …).
    pub capacity: Option<Json>,
    /// Source system of the record.
    pub source: String,
    /// Identifier of the record in its source.
    pub source_id: String,
    /// Licence of the source data.
    pub source_licence: String,
    /// Attribution to show with the data.
    pub source_attribution: String,
    /// Page of the record in its source.
    pub source_url: Option<String>,
    /// When the source last changed the record.
    pub source_updated_at: Option<DateTimeUtc>,
    /// Organisation that owns the offer (for provider keys).
    pub owner: Option<String>,
    /// draft, published or archived.
    pub status: String,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// Soft deletion time.
    pub deleted_at: Option<DateTimeUtc>,
    /// Catalog version of its last change (a gap-free order for change feeds).
    pub catalog_version: i64,
}

/// Relations of an offer.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
