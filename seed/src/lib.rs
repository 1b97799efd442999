//! The reference data of La Porte du Hainaut and the code that loads it.
//!
//! The open-data files are embedded in the binary so a fresh clone runs without `../shared`;
//! `seed/data/README.md` gives their sources and licences.

pub mod datatourisme;
pub mod geometry;
pub mod hours;
pub mod load;
pub mod slug;
pub mod synth;
pub mod territory;

pub use load::{LoadError, LoadReport, load, offer_id};
pub use territory::{Territory, territory};
