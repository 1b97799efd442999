//! The offer as GraphQL serves it: the types, the root queries and their input validation.

pub mod filter;
pub mod query;
pub mod types;

pub use query::OffersQuery;
