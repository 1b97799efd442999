//! Mutations of the offer, for API keys that may edit (see `auth`). Each returns the offer as it
//! now is, whatever its status.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use super::input::{MediaInput, OccurrenceInput, OfferInput};
use super::query::lang;
use super::types::OfferNode;
use super::write;
use crate::auth::Caller;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::events::Action;
use crate::lang::Lang;
use crate::state::AppState;

fn state<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>().map_err(|_| Error::Internal("no state in context".into()).into_graphql())
}

/// The caller of the request.
pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous)
}

/// The offer as an editor sees it (any status).
pub async fn editable_node(state: &AppState, id: &str, lang: Lang) -> Result<OfferNode> {
    let (catalog, index) =
        Catalog::load_one(&state.db, id).await?.ok_or_else(|| Error::NotFound(format!("no offer {id}")))?;
    Ok(OfferNode { catalog: Arc::new(catalog), index, lang, distance: None })
}

async fn respond(ctx: &Context<'_>, result: Result<entities::offer::Model>) -> async_graphql::Result<OfferNode> {
    let state = state(ctx)?;
    let saved = result.map_err(Error::into_graphql)?;
    let lang = lang(ctx, None);
    // A published offer comes from the fresh catalog, with its relations; any other from the database.
    let catalog = state.catalog.get();
    if let Some(index) = catalog.by_id(&saved.id) {
        return Ok(OfferNode { catalog, index, lang, distance: None });
    }
    editable_node(state, &saved.id, lang).await.map_err(Error::into_graphql)
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
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, Action::Published).await;
        respond(ctx, r).await
    }

    /// Takes an offer back to draft.
    async fn unpublish_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, Action::Unpublished).await;
        respond(ctx, r).await
    }

    /// Archives an offer (no longer public, kept).
    async fn archive_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, Action::Archived).await;
        respond(ctx, r).await
    }

    /// Deletes an offer (softly: it can be restored).
    async fn delete_offer(&self, ctx: &Context<'_>, id: ID, expected_version: i32) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, Action::Deleted).await;
        respond(ctx, r).await
    }

    /// Restores a deleted offer.
    async fn restore_offer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<OfferNode> {
        let r = write::set_state(state(ctx)?, caller(ctx), &id, expected_version, Action::Restored).await;
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
