//! The offer as GraphQL serves it: the types, the root queries and their input validation.

pub mod changes;
pub mod filter;
pub mod input;
pub mod mutation;
pub mod query;
pub mod types;
pub mod write;

pub use mutation::OffersMutation;
pub use query::OffersQuery;
