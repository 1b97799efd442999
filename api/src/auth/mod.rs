//! API keys and roles: who is calling, what they may do, and how often.

pub mod keys;
pub mod rate_limit;

use axum::http::{HeaderMap, header};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use entities::api_key;

/// Roles of API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Role {
    /// Everything, keys included.
    Admin,
    /// Every offer.
    Editor,
    /// The offers of its own organisation.
    Provider,
    /// Reads feeds with a higher quota.
    Partner,
}

impl Role {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Provider => "provider",
            Role::Partner => "partner",
        }
    }

    /// Reads a stored code.
    pub fn from_code(code: &str) -> Option<Role> {
        [Role::Admin, Role::Editor, Role::Provider, Role::Partner].into_iter().find(|r| r.code() == code)
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No key.
    Anonymous,
    /// A valid key.
    Key {
        /// Key id.
        id: String,
        /// Key name (shown in revisions).
        name: String,
        /// Role.
        role: Role,
        /// Organisation, for providers.
        owner: Option<String>,
        /// Requests per minute, when the key has its own quota.
        quota: Option<u32>,
    },
}

impl Caller {
    /// The role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::Key { role, .. } => Some(*role),
        }
    }

    /// The name written in revisions.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".to_owned(),
            Caller::Key { name, role, .. } => format!("{}:{name}", role.code()),
        }
    }

    /// Whether the caller may edit offers at all.
    pub fn can_edit(&self) -> bool {
        matches!(self.role(), Some(Role::Admin | Role::Editor | Role::Provider))
    }

    /// Whether the caller may edit an offer owned by `owner`.
    pub fn can_edit_offer(&self, owner: Option<&str>) -> bool {
        match self {
            Caller::Key { role: Role::Admin | Role::Editor, .. } => true,
            Caller::Key { role: Role::Provider, owner: Some(mine), .. } => owner == Some(mine.as_str()),
            _ => false,
        }
    }

    /// Refuses anyone who may not edit.
    pub fn require_editing(&self) -> Result<()> {
        match self {
            Caller::Anonymous => Err(Error::Unauthenticated("send an API key: Authorization: Bearer <token>".into())),
            c if c.can_edit() => Ok(()),
            _ => Err(Error::Forbidden("this key may not edit offers".into())),
        }
    }

    /// Refuses anyone but editors and admins.
    pub fn require_editor(&self) -> Result<()> {
        match self.role() {
            None => Err(Error::Unauthenticated("send an API key: Authorization: Bearer <token>".into())),
            Some(Role::Admin | Role::Editor) => Ok(()),
            Some(_) => Err(Error::Forbidden("only editors may do this".into())),
        }
    }
}

/// Reads the bearer token of a request: `None` without one, an error when it is malformed.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| Error::Unauthenticated("the Authorization header is not text".into()))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| Error::Unauthenticated("use Authorization: Bearer <token>".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::Unauthenticated("use Authorization: Bearer <token>".into()));
    }
    Ok(Some(token.trim().to_owned()))
}

/// Finds the caller of a request: anonymous without a token, an error for a wrong or revoked one.
pub async fn authenticate(db: &DatabaseConnection, headers: &HeaderMap) -> Result<Caller> {
    let Some(token) = bearer(headers)? else { return Ok(Caller::Anonymous) };
    let hash = keys::hash_token(&token);
    let key = entities::prelude::ApiKey::find().filter(api_key::Column::TokenHash.eq(hash)).one(db).await?;
    match key {
        Some(k) if k.revoked_at.is_none() => Ok(Caller::Key {
            role: Role::from_code(&k.role)
                .ok_or_else(|| Error::Internal(format!("key {} has role {}", k.id, k.role)))?,
            id: k.id,
            name: k.name,
            owner: k.owner,
            quota: k.quota_per_minute.and_then(|q| u32::try_from(q).ok()),
        }),
        Some(_) => Err(Error::Unauthenticated("this API key has been revoked".into())),
        None => Err(Error::Unauthenticated("unknown API key".into())),
    }
}

/// Middleware: identifies the caller (a wrong or revoked key is 401 `UNAUTHENTICATED`), counts
/// the request against its quota (429 `RATE_LIMITED` with `Retry-After`), and hands the caller to
/// the handlers as an extension. Probes and static assets are exempt.
pub async fn middleware(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path().to_owned();
    if matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics") || path.starts_with("/map/") {
        return next.run(req).await;
    }
    let addr = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let result = match authenticate(&state.db, req.headers()).await {
        Ok(caller) => state.limiter.check(&caller, addr).await.map(|()| caller),
        Err(e) => Err(e),
    };
    match result {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) if path.starts_with("/graphql") => {
            let status = e.status_code();
            let retry = if let Error::RateLimited { retry_after } = &e { Some(*retry_after) } else { None };
            let body = serde_json::json!({ "errors": [{ "message": e.public_message(), "extensions": { "code": e.code() } }] });
            let mut r =
                (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response();
            if let Some(s) = retry.and_then(|s| s.to_string().parse().ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, s);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}
