//! The model of the tourist offer, shared by the API, the territory loader and the importers:
//! sea-orm entities (one module per table, and a prelude), the typed vocabulary ([`vocab`]) and
//! structured values ([`values`]) they are made of, the pure domain code ([`domain`]: geometry,
//! projection, opening hours, slugs, ids, field checks), and the one write path every change to
//! the offer goes through ([`write`]).
//!
//! The schema itself lives in the `migration` crate; these types mirror it. Nothing here knows
//! the web (no axum, no GraphQL server, no tower).

pub mod api_key;
pub mod catalog_change;
pub mod catalog_state;
pub mod commune;
pub mod domain;
pub mod event_occurrence;
pub mod import_digest;
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
pub mod values;
pub mod vocab;
pub mod write;
