//! Short names for every entity, as sea-orm's generator would give them.

pub use crate::api_key::Entity as ApiKey;
pub use crate::catalog_change::Entity as CatalogChange;
pub use crate::catalog_state::Entity as CatalogState;
pub use crate::commune::Entity as Commune;
pub use crate::event_occurrence::Entity as EventOccurrence;
pub use crate::import_digest::Entity as ImportDigest;
pub use crate::media::Entity as Media;
pub use crate::offer::Entity as Offer;
pub use crate::offer_correlate::Entity as OfferCorrelate;
pub use crate::offer_theme::Entity as OfferTheme;
pub use crate::qr_code::Entity as QrCode;
pub use crate::qr_scan::Entity as QrScan;
pub use crate::revision::Entity as Revision;
pub use crate::route::Entity as Route;
pub use crate::route_stage::Entity as RouteStage;
pub use crate::theme::Entity as Theme;
