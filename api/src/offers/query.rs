//! Root queries over the offer: `offers`, `offer`, `totems`, `themes`, `communes`, `commune`, `routes`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::changes::ChangePage;
use super::filter::{OfferFilter, find_offer};
use super::types::{CommuneNode, OfferConnection, OfferEdge, OfferNode, PageInfo, ThemeNode, check_first};
use crate::catalog::Catalog;
use crate::catalog::query::{OfferQuery, Selected, SortKey};
use crate::error::Error;
use crate::lang::Lang;
use crate::state::AppState;
use entities::offer;
use entities::prelude::Offer;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The language the request asked for through `Accept-Language`, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLang(pub Option<Lang>);

/// The catalog snapshot of the request.
pub fn catalog(ctx: &Context<'_>) -> async_graphql::Result<Arc<Catalog>> {
    ctx.data::<Arc<Catalog>>().cloned().map_err(|_| Error::Internal("no catalog in context".into()).into_graphql())
}

/// The language to answer in: the argument, else the header, else French.
pub fn lang(ctx: &Context<'_>, arg: Option<Lang>) -> Lang {
    arg.or_else(|| ctx.data_opt::<RequestLang>().and_then(|l| l.0)).unwrap_or_default()
}

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
    query: &OfferQuery,
    first: usize,
    after: Option<&str>,
    lang: Lang,
) -> Result<OfferConnection, Error> {
    let after = after.map(decode_cursor).transpose()?;
    let Selected { total, before, hits } = catalog.select(query, after.as_ref(), first)?;
    let edges: Vec<OfferEdge> = hits
        .iter()
        .map(|h| OfferEdge {
            cursor: encode_cursor(&SortKey::of(catalog, h)),
            node: OfferNode { catalog: catalog.clone(), index: h.index, lang, distance: h.distance },
        })
        .collect();
    let page_info = PageInfo {
        has_next_page: before + edges.len() < total,
        has_previous_page: before > 0,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    Ok(OfferConnection { edges, page_info, total_count: total })
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
        page(&catalog, &query, first, after.as_deref(), self::lang(ctx, lang)).map_err(Error::into_graphql)
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
        let lang = self::lang(ctx, lang);
        let index = match (&id, &slug) {
            (Some(id), None) => catalog.by_id(id),
            (None, Some(slug)) => catalog.by_slug(slug),
            _ => return Err(Error::BadUserInput("give exactly one of id and slug".into()).into_graphql()),
        };
        if let Some(index) = index {
            return Ok(Some(OfferNode { catalog: catalog.clone(), index, lang, distance: None }));
        }
        let caller = super::mutation::caller(ctx);
        if !caller.can_edit() {
            return Ok(None);
        }
        let Ok(state) = ctx.data::<AppState>() else { return Ok(None) };
        let row = match (id, slug) {
            (Some(id), _) => Offer::find_by_id(id.0).one(&state.db).await,
            (_, Some(slug)) => Offer::find().filter(offer::Column::Slug.eq(slug)).one(&state.db).await,
            _ => Ok(None),
        }
        .map_err(|e| Error::from(e).into_graphql())?;
        match row {
            Some(row) if caller.can_edit_offer(row.owner.as_deref()) => {
                Ok(Some(super::mutation::editable_node(state, &row.id, lang).await.map_err(Error::into_graphql)?))
            }
            _ => Ok(None),
        }
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
        let state = ctx.data::<AppState>().map_err(|_| Error::Internal("no state".into()).into_graphql())?;
        if !(1..=1000).contains(&first) {
            return Err(Error::BadUserInput("first must be between 1 and 1000".into()).into_graphql());
        }
        super::changes::page(&state.db, since, after.as_deref(), first as u64).await.map_err(Error::into_graphql)
    }

    /// The five totems, in the order of their themes.
    async fn totems(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<OfferNode>> {
        let catalog = catalog(ctx)?;
        let lang = self::lang(ctx, lang);
        let mut out: Vec<usize> = catalog.themes.iter().filter_map(|t| t.totem).collect();
        let others: Vec<usize> =
            (0..catalog.offers.len()).filter(|&i| catalog.offers[i].is_totem && !out.contains(&i)).collect();
        out.extend(others);
        Ok(out.into_iter().map(|index| OfferNode { catalog: catalog.clone(), index, lang, distance: None }).collect())
    }

    /// The themes, in display order.
    async fn themes(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<ThemeNode>> {
        let catalog = catalog(ctx)?;
        let lang = self::lang(ctx, lang);
        Ok((0..catalog.themes.len()).map(|index| ThemeNode { catalog: catalog.clone(), index, lang }).collect())
    }

    /// The 47 communes, by name.
    async fn communes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CommuneNode>> {
        let catalog = catalog(ctx)?;
        let lang = self::lang(ctx, None);
        Ok((0..catalog.communes.len()).map(|index| CommuneNode { catalog: catalog.clone(), index, lang }).collect())
    }

    /// One commune by INSEE code.
    async fn commune(&self, ctx: &Context<'_>, code: String) -> async_graphql::Result<Option<CommuneNode>> {
        let catalog = catalog(ctx)?;
        let lang = self::lang(ctx, None);
        Ok(catalog.communes.iter().position(|c| c.insee == code).map(|index| CommuneNode {
            catalog: catalog.clone(),
            index,
            lang,
        }))
    }

    /// Published routes (itineraries), by name.
    async fn routes(&self, ctx: &Context<'_>, lang: Option<Lang>) -> async_graphql::Result<Vec<OfferNode>> {
        let catalog = catalog(ctx)?;
        let lang = self::lang(ctx, lang);
        Ok((0..catalog.offers.len())
            .filter(|&i| catalog.offers[i].route.is_some())
            .map(|index| OfferNode { catalog: catalog.clone(), index, lang, distance: None })
            .collect())
    }
}

/// Resolves an id or slug, for other modules.
pub fn resolve(catalog: &Catalog, key: &str) -> Option<usize> {
    find_offer(catalog, key)
}
