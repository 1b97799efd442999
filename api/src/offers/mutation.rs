//! Mutations of the offer, for API keys that may edit (see `auth`). Each returns the offer as it
//! now is, whatever its status.

use std::future::Future;

use async_graphql::{Context, ID, Object};

use super::input::{MediaInput, OccurrenceInput, OfferInput};
use super::types::OfferNode;
use super::write::{self, StateChange};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::graphql::context::{caller, lang, state};
use crate::state::AppState;

/// Runs a write, then the answer read after it, on the write lane (see [`crate::lane`]): both
/// go to their end even when the request stops waiting.
async fn on_lane<F, Fut>(ctx: &Context<'_>, write: F) -> async_graphql::Result<OfferNode>
where
    F: FnOnce(AppState, Caller) -> Fut,
    Fut: Future<Output = Result<entities::offer::Model>> + Send + 'static,
{
    let state = state(ctx)?.clone();
    let lang = lang(ctx, None);
    let work = write(state.clone(), caller(ctx).clone());
    let lane = state.lane.clone();
    lane.run(async move {
        let saved = work.await?;
        write::answer(&state, saved, lang).await
    })
    .await
    .map_err(Error::into_graphql)
}

/// Mutations of the offer.
#[derive(Default)]
pub struct OffersMutation;

#[Object]
impl OffersMutation {
    /// Creates an offer as a draft (providers: owned by their organisation).
    async fn create_offer(&self, ctx: &Context<'_>, input: OfferInput) -> async_graphql::Result<OfferNode> {
        on_lane(ctx, move |s, c| async move { write::create(&s, &c, input).await }).await
    }

    /// Changes the fields given, if the offer is still at `expectedVersion` (else `CONFLICT`
    /// with `extensions.currentVersion`).
    async fn update_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        input: OfferInput,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(ctx, move |s, c| async move { write::update(&s, &c, &id, expected_version, input).await }).await
    }

    /// Publishes an offer: it becomes visible to everyone.
    async fn publish_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(
            ctx,
            move |s, c| async move { write::set_state(&s, &c, &id, expected_version, StateChange::Publish).await },
        )
        .await
    }

    /// Takes an offer back to draft.
    async fn unpublish_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(ctx, move |s, c| async move {
            write::set_state(&s, &c, &id, expected_version, StateChange::Unpublish).await
        })
        .await
    }

    /// Archives an offer (no longer public, kept).
    async fn archive_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(
            ctx,
            move |s, c| async move { write::set_state(&s, &c, &id, expected_version, StateChange::Archive).await },
        )
        .await
    }

    /// Deletes an offer (softly: it can be restored).
    async fn delete_offer(&self, ctx: &Context<'_>, id: ID, expected_version: i32) -> async_graphql::Result<OfferNode> {
        on_lane(
            ctx,
            move |s, c| async move { write::set_state(&s, &c, &id, expected_version, StateChange::Delete).await },
        )
        .await
    }

    /// Restores a deleted offer.
    async fn restore_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(
            ctx,
            move |s, c| async move { write::set_state(&s, &c, &id, expected_version, StateChange::Restore).await },
        )
        .await
    }

    /// Replaces the occurrences of an event.
    async fn set_occurrences(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        occurrences: Vec<OccurrenceInput>,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(
            ctx,
            move |s, c| async move { write::set_occurrences(&s, &c, &id, expected_version, occurrences).await },
        )
        .await
    }

    /// Replaces the media of an offer (each with its licence and credit).
    async fn set_media(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        media: Vec<MediaInput>,
    ) -> async_graphql::Result<OfferNode> {
        on_lane(ctx, move |s, c| async move { write::set_media(&s, &c, &id, expected_version, media).await }).await
    }

    /// Replaces the corrélats of a totem (editors).
    async fn set_correlates(
        &self,
        ctx: &Context<'_>,
        totem_id: ID,
        expected_version: i32,
        offer_ids: Vec<ID>,
    ) -> async_graphql::Result<OfferNode> {
        let ids = offer_ids.into_iter().map(|i| i.0).collect();
        on_lane(ctx, move |s, c| async move { write::set_correlates(&s, &c, &totem_id, expected_version, ids).await })
            .await
    }

    /// Replaces the ordered stages of a route (and its practices when given).
    async fn set_route_stages(
        &self,
        ctx: &Context<'_>,
        route_id: ID,
        expected_version: i32,
        offer_ids: Vec<ID>,
        practices: Option<Vec<String>>,
    ) -> async_graphql::Result<OfferNode> {
        let ids = offer_ids.into_iter().map(|i| i.0).collect();
        on_lane(ctx, move |s, c| async move {
            write::set_route_stages(&s, &c, &route_id, expected_version, ids, practices).await
        })
        .await
    }
}
