//! Pure domain code of the offer, with no database and no web in it: geometry (GeoJSON in and
//! out, the checks a footprint must pass, bounding boxes, Web Mercator), opening hours, slugs,
//! stable ids, text folding, and the checks every field passes on its way in. The API, the
//! territory loader and the importers share it.

pub mod check;
pub mod geometry;
pub mod hours;
pub mod ids;
pub mod mercator;
pub mod slug;
pub mod text;
