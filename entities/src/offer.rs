//! An offer: every place, accommodation, event, route or service of the tourist offer.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::values::{Accessibility, Address, Capacity, Classification, Codes, Contacts, Prices, Texts};
use crate::vocab::{GeoPrecision, OfferKind, OfferStatus};

/// One offer. Structured fields are JSON columns of the shapes in [`crate::values`].
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
    /// Kind.
    pub kind: OfferKind,
    /// DATAtourisme classes.
    pub classes: Codes,
    /// Whether this offer is one of the five totems.
    pub is_totem: bool,
    /// Multilingual name.
    pub name: Texts,
    /// Multilingual short description.
    pub short_description: Option<Texts>,
    /// Multilingual long description.
    pub description: Option<Texts>,
    /// Representative point, longitude (WGS84).
    pub lon: f64,
    /// Representative point, latitude (WGS84).
    pub lat: f64,
    /// How precise the position is.
    pub geo_precision: GeoPrecision,
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
    /// Postal address.
    pub address: Option<Address>,
    /// Contacts.
    pub contacts: Option<Contacts>,
    /// Opening hours in OpenStreetMap `opening_hours` syntax.
    #[sea_orm(column_type = "Text", nullable)]
    pub opening_hours: Option<String>,
    /// Opening hours that could not be expressed in that syntax, as text.
    #[sea_orm(column_type = "Text", nullable)]
    pub opening_hours_text: Option<String>,
    /// Prices.
    pub prices: Option<Prices>,
    /// Accessibility.
    pub accessibility: Option<Accessibility>,
    /// Labels (e.g. `unesco-patrimoine-mondial`, `monument-historique-classe`).
    pub labels: Codes,
    /// Capacity of an accommodation.
    pub capacity: Option<Capacity>,
    /// Classification in Atout France's register, for classified accommodation.
    pub classification: Option<Classification>,
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
    /// Where it stands.
    pub status: OfferStatus,
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
    /// Whether the offer was ever public: the change feed names only those (set by the writer).
    pub published_once: bool,
}

/// Relations of an offer.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether everyone may read it: published and not deleted.
    pub fn is_public(&self) -> bool {
        self.status == OfferStatus::Published && self.deleted_at.is_none()
    }
}
