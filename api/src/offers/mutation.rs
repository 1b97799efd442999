//! Mutations of the offer, for API keys that may edit (see `auth`). Each returns the offer as it
//! now is, whatever its status.

use async_graphql::{Context, ID, Object};

use super::input::{MediaInput, OccurrenceInput, OfferInput};
use super::types::OfferNode;
use super::write::{self, StateChange};
use crate::error::{Error, Result};
use crate::graphql::context::{caller, lang, state};

async fn respond(ctx: &Context<'_>, result: Result<entities::offer::Model>) -> async_graphql::Result<OfferNode> {
    let state = state(ctx)?;
    let saved = result.map_err(Error::into_graphql)?;
    write::answer(state, saved, lang(ctx, None)).await.map_err(Error::into_graphql)
}

/// Mutations of the offer.
#[derive(Default)]
pub struct OffersMutation;

#[Object]
impl OffersMutation {
    /// Creates an offer as a draft (providers: owned by their organisation).
    async fn create_offer(&self, ctx: &Context<'_>, input: OfferInput) -> async_graphql::Result<OfferNode> {
        let r = write::create(state(ctx)?, caller(ctx), input).await;
        respond(ctx, r).await
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
        let r = write::update(state(ctx)?, caller(ctx), &id, expected_version, input).await;
        respond(ctx, r).await
    }

    /// Publishes an offer: it becomes visible to everyone.
    async fn publish_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, StateChange::Publish).await;
        respond(ctx, r).await
    }

    /// Takes an offer back to draft.
    async fn unpublish_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, StateChange::Unpublish).await;
        respond(ctx, r).await
    }

    /// Archives an offer (no longer public, kept).
    async fn archive_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, StateChange::Archive).await;
        respond(ctx, r).await
    }

    /// Deletes an offer (softly: it can be restored).
    async fn delete_offer(&self, ctx: &Context<'_>, id: ID, expected_version: i32) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, StateChange::Delete).await;
        respond(ctx, r).await
    }

    /// Restores a deleted offer.
    async fn restore_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, StateChange::Restore).await;
        respond(ctx, r).await
    }

    /// Replaces the occurrences of an event.
    async fn set_occurrences(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        occurrences: Vec<OccurrenceInput>,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_occurrences(state(ctx)?, caller(ctx), &id, expected_version, occurrences).await;
        respond(ctx, r).await
    }

    /// Replaces the media of an offer (each with its licence and credit).
    async fn set_media(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        media: Vec<MediaInput>,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_media(state(ctx)?, caller(ctx), &id, expected_version, media).await;
        respond(ctx, r).await
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
        let r = write::set_correlates(state(ctx)?, caller(ctx), &totem_id, expected_version, ids).await;
        respond(ctx, r).await
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
        let r = write::set_route_stages(state(ctx)?, caller(ctx), &route_id, expected_version, ids, practices).await;
        respond(ctx, r).await
    }
}
