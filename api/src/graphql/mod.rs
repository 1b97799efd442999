//! The GraphQL schema: the root types merged from each domain, and its limits.

pub mod http;
pub mod persisted;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema};

use crate::offers::OffersQuery;

/// Every root query, merged from the domains.
#[derive(MergedObject, Default)]
pub struct Query(OffersQuery);

/// The schema type.
pub type ApiSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted (a page of 100 offers with a dozen fields is about 1,300).
pub const MAX_COMPLEXITY: usize = 5_000;
/// Most aliases accepted in one document.
pub const MAX_ALIASES: usize = 30;

/// Builds the schema with its limits.
pub fn build_schema() -> ApiSchema {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(20)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}
