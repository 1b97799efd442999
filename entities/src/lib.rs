//! sea-orm entities of the tourist-offer database: one module per table, plus a prelude.
//!
//! The schema itself lives in the `migration` crate; these types mirror it so the API and the
//! seeder read and write rows with checked Rust types.

pub mod api_key;
pub mod catalog_state;
pub mod commune;
pub mod event_occurrence;
pub mod media;
pub mod offer;
pub mod offer_correlate;
pub mod offer_theme;
pub mod prelude;
pub mod qr_code;
pub mod qr_scan;
pub mod revision;
pub mod route;
pub mod route_stage;
pub mod theme;
