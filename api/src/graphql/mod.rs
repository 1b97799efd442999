//! The GraphQL schema: the root types merged from each domain, and its limits.

pub mod context;
pub mod documents;
pub mod guard;
pub mod http;
pub mod limits;
pub mod persisted;
pub mod raw;
pub mod rules;
pub mod ws;

use std::sync::Arc;

use async_graphql::{Context, ID, MergedObject, Schema, Subscription as SubscriptionAttr};
use futures::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::events::{OfferChange, visible_to};
use crate::offers::{OffersMutation, OffersQuery};
use crate::qr::graphql::QrMutation;
use crate::stats::StatsQuery;
use documents::Documents;
use guard::GuardFactory;

/// Every root query, merged from the domains.
#[derive(MergedObject, Default)]
pub struct Query(OffersQuery, StatsQuery);

/// Every mutation, merged from the domains.
#[derive(MergedObject, Default)]
pub struct Mutation(OffersMutation, QrMutation);

/// Live updates, over `/graphql/ws` (graphql-transport-ws).
#[derive(Default)]
pub struct Subscription;

#[SubscriptionAttr]
impl Subscription {
    /// Every change of an offer from now on (or of the given offers only), in version order,
    /// as the caller may see it: public offers for everyone, drafts for those who may edit them.
    async fn offer_changed(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<impl Stream<Item = OfferChange> + use<>> {
        let state = context::state(ctx)?;
        let caller = context::caller(ctx).clone();
        let ids: Option<Vec<String>> = ids.map(|v| v.into_iter().map(|i| i.0).collect());
        Ok(BroadcastStream::new(state.catalog.subscribe())
            .filter_map(move |r| r.ok().and_then(|c| visible_to(&caller, &c)))
            .filter(move |c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id))))
    }
}

/// The schema type.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted (a page of 100 offers with a dozen fields is about 1,300).
pub const MAX_COMPLEXITY: usize = 5_000;
/// Builds the schema with its limits; `documents` is the cache of checked documents every request
/// goes through (see [`guard`]).
pub fn build_schema(documents: Arc<Documents>) -> ApiSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .extension(GuardFactory::new(documents))
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(limits::MAX_NESTING)
        .limit_directives(20)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    build_schema(Arc::default()).sdl()
}
