//! What every resolver reads from the request's context, in one place the domains share: the
//! catalog snapshot of the request, the caller, the language, the state, the base URLs.

use std::sync::Arc;

use async_graphql::Context;

use crate::auth::Caller;
use crate::catalog::Catalog;
use crate::error::Error;
use crate::lang::Lang;
use crate::state::{AppState, Urls};

/// The language the request asked for through `Accept-Language`, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLang(pub Option<Lang>);

/// The catalog snapshot of the request (one version from start to end).
pub fn catalog(ctx: &Context<'_>) -> async_graphql::Result<Arc<Catalog>> {
    ctx.data::<Arc<Catalog>>().cloned().map_err(|_| Error::Internal("no catalog in context".into()).into_graphql())
}

/// The language to answer in: the argument, else the header, else French.
pub fn lang(ctx: &Context<'_>, arg: Option<Lang>) -> Lang {
    arg.or_else(|| ctx.data_opt::<RequestLang>().and_then(|l| l.0)).unwrap_or_default()
}

/// The caller of the request.
pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous)
}

/// The application state.
pub fn state<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>().map_err(|_| Error::Internal("no state in context".into()).into_graphql())
}

/// The base URLs of the request.
pub fn urls<'a>(ctx: &'a Context<'_>) -> Option<&'a Urls> {
    ctx.data_opt::<Urls>()
}
