//! What brings data in: the reference data of La Porte du Hainaut and its loader, the importers
//! (DATAtourisme, Atout France's register), and the synthetic generator for scale tests. Each writes through the one write
//! path of `entities::write`.
//!
//! The open-data files are embedded in the binary so a fresh clone runs without `../shared`;
//! `seed/data/README.md` gives their sources and licences.

pub mod atout_france;
pub mod datatourisme;
pub mod load;
pub mod progress;
pub mod synth;
pub mod territory;

pub use load::{LoadError, LoadReport, load};
pub use territory::{Territory, territory};
