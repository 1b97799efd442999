//! Root queries over the offer: `offers`, `offer`, `totems`, `themes`, `communes`, `commune`,
//! `routes`, `changes`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::changes::ChangePage;
use super::filter::OfferFilter;
use super::types::{CommuneNode, OfferConnection, OfferEdge, OfferNode, PageInfo, ThemeNode, check_first};
use crate::catalog::Catalog;
use crate::catalog::query::{OfferQuery, Selected, SortKey};
use crate::error::Error;
use crate::graphql::context::{self, catalog};
use crate::lang::Lang;

fn encode_cursor(key: &SortKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<SortKey, Error> {
    let bytes =
        URL_SAFE_NO_PAD.decode(cursor).map_err(|_| Error::BadUserInput("after: not a cursor of this API".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| Error::BadUserInput("after: not a cursor of this API".into()))
}

/// Selects one page of offers and wraps it as a connection.
pub fn page(
    catalog: &Arc<Catalog>,
    query: OfferQuery,
    first: usize,
    after: Option<&str>,
    lang: Lang,
) -> Result<OfferConnection, Error> {
    let after = after.map(decode_cursor).transpose()?;
    let Selected { hits, has_next } = catalog.select(&query, after.as_ref(), first)?;
    let edges: Vec<OfferEdge> = hits
        .into_iter()
        .map(|h| OfferEdge {
            cursor: encode_cursor(&SortKey::of(&h)),
            node: OfferNode { catalog: catalog.clone(), record: h.record, lang, distance: h.distance },
        })
        .collect();
    let page_info = PageInfo {
        has_next_page: has_next,
        has_previous_page: after.is_some(),
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    Ok(OfferConnection { edges, page_info, query: Arc::new(query), catalog: catalog.clone() })
}

/// Root queries of the offer.
#[derive(Default)]
pub struct OffersQuery;

#[Object]
impl OffersQuery {
    /// Published offers matching a filter, a page at a time (`first` at most 100). Ordered by
    /// distance under `near`, by relevance under `text`, else by name.
    #[graphql(complexity = "super::types::page_cost(first, 20, child_complexity)")]
    async fn offers(
        &self,
        ctx: &Context<'_>,
        filter: Option<OfferFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        lang: Option<Lang>,
    ) -> async_graphql::Result<OfferConnection> {
        let catalog = catalog(ctx)?;
        let first = check_first(first.unwrap_or(20), "first").map_err(Error::into_graphql)?;
        let query = filter.unwrap_or_default().into_query(&catalog).map_err(Error::into_graphql)?;
        page(&catalog, query, first, after.as_deref(), context::lang(ctx, lang)).map_err(Error::into_graphql)
    }

    /// One offer, by id or by slug: a published one for everyone; drafts, archived and deleted
    /// offers too for the keys that may edit them.
    async fn offer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
        lang: Option<Lang>,
    ) -> async_graphql::Result<Option<OfferNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, lang);
        let found = match (&id, &slug) {
            (Some(id), None) => catalog.by_id(id),
            (None, Some(slug)) => catalog.by_slug(slug),
            _ => return Err(Error::BadUserInput("give exactly one of id and slug".into()).into_graphql()),
        };
        if let Some(record) = found {
            return Ok(Some(OfferNode::new(&catalog, record, lang)));
        }
        let caller = context::caller(ctx);
        if !caller.can_edit() {
            return Ok(None);
        }
        let state = context::state(ctx)?;
        super::write::editable(state, caller, id.as_ref().map(|i| i.as_str()), slug.as_deref(), lang)
            .await
            .map_err(Error::into_graphql)
    }

    /// Changes since an instant, in commit order: upserts for public offers, tombstones for
    /// offers once public and now deleted, archived or unpublished (drafts never published do not
    /// appear). Resume with `after` (a cursor of a previous page).
    async fn changes(
        &self,
        ctx: &Context<'_>,
        since: Option<chrono::DateTime<chrono::Utc>>,
        after: Option<String>,
        #[graphql(default = 100)] first: Option<i32>,
    ) -> async_graphql::Result<ChangePage> {
        let first = first.unwrap_or(100);
        let state = context::state(ctx)?;
        if !(1..=1000).contains(&first) {
            return Err(Error::BadUserInput("first must be between 1 and 1000".into()).into_graphql());
        }
        super::changes::page(&state.db, since, after.as_deref(), first as u64).await.map_err(Error::into_graphql)
    }

    /// The five totems, in the order of their themes, then any other totem by name.
    async fn totems(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<OfferNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, lang);
        let mut out: Vec<OfferNode> = catalog
            .themes
            .iter()
            .filter_map(|t| t.totem)
            .filter_map(|id| catalog.get(&id))
            .map(|r| OfferNode::new(&catalog, r, lang))
            .collect();
        let others: Vec<OfferNode> = catalog
            .totem_records()
            .filter(|r| !out.iter().any(|n| n.record.id == r.id))
            .map(|r| OfferNode::new(&catalog, r, lang))
            .collect();
        out.extend(others);
        Ok(out)
    }

    /// The themes, in display order.
    async fn themes(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<ThemeNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, lang);
        Ok((0..catalog.themes.len()).map(|index| ThemeNode { catalog: catalog.clone(), index, lang }).collect())
    }

    /// The 47 communes, by name.
    async fn communes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CommuneNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, None);
        Ok((0..catalog.communes.len()).map(|index| CommuneNode { catalog: catalog.clone(), index, lang }).collect())
    }

    /// One commune by INSEE code.
    async fn commune(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<Option<CommuneNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, None);
        Ok(catalog.communes.iter().position(|c| c.insee == code).map(|index| CommuneNode {
            catalog: catalog.clone(),
            index,
            lang,
        }))
    }

    /// Published routes (itineraries), by name.
    async fn routes(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<OfferNode>> {
        let catalog = catalog(ctx)?;
        let lang = context::lang(ctx, lang);
        Ok(catalog.route_records().map(|r| OfferNode::new(&catalog, r, lang)).collect())
    }
}
