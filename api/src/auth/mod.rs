//! API keys and roles: who is calling, what they may do, and how often.

pub mod keys;
pub mod rate_limit;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        /// The database could not check the key just now and a recent check vouches for it:
        /// reads pass, writes wait until the key can be checked again.
        from_memory: bool,
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

    /// Refuses a key vouched for from memory: what it is about to do needs the key checked now.
    fn require_checked(&self) -> Result<()> {
        match self {
            Caller::Key { from_memory: true, .. } => Err(Error::Unavailable(
                "this API key cannot be checked while the database is away: retry shortly".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses anyone who may not edit, and a key that cannot be checked now.
    pub fn require_editing(&self) -> Result<()> {
        match self {
            Caller::Anonymous => Err(Error::Unauthenticated("send an API key: Authorization: Bearer <token>".into())),
            c if c.can_edit() => self.require_checked(),
            _ => Err(Error::Forbidden("this key may not edit offers".into())),
        }
    }

    /// Refuses anyone but editors and admins, and a key that cannot be checked now.
    pub fn require_editor(&self) -> Result<()> {
        match self.role() {
            None => Err(Error::Unauthenticated("send an API key: Authorization: Bearer <token>".into())),
            Some(Role::Admin | Role::Editor) => self.require_checked(),
            Some(_) => Err(Error::Forbidden("only editors may do this".into())),
        }
    }
}

/// Reads the bearer token of a request: `None` without one, an error when it is malformed.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| Error::Unauthenticated("the Authorization header is not text".into()))?;
    bearer_token(value).map(Some)
}

/// Reads `Bearer <token>` (an `Authorization` header, or the same in a WebSocket's
/// `connection_init` payload).
pub fn bearer_token(value: &str) -> Result<String> {
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| Error::Unauthenticated("use Authorization: Bearer <token>".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::Unauthenticated("use Authorization: Bearer <token>".into()));
    }
    Ok(token.trim().to_owned())
}

/// The address a request is counted by (rate limits, connection caps): the peer's, or, when
/// the peer is one of the trusted proxies, the nearest address before it in `X-Forwarded-For`
/// (else `Forwarded`) that is not a trusted proxy itself. An IPv6 address counts by its /64, the
/// network one subscriber gets: counting by /128 would give every client 2^64 quotas.
pub fn client_address(trusted: &[ipnet::IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer;
    if is_trusted(&peer) {
        let hops = forwarded_for(headers);
        // From the nearest hop back: the first that is not one of ours is the client.
        for hop in hops.iter().rev() {
            client = *hop;
            if !is_trusted(hop) {
                break;
            }
        }
    }
    network_of(client)
}

/// An IPv6 address reduced to its /64 (IPv4-mapped ones to their IPv4 address).
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
        v4 => v4,
    }
}

/// The addresses of `X-Forwarded-For`, or else of `Forwarded`'s `for=`, in order (client first).
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    fn address(text: &str) -> Option<IpAddr> {
        let t = text.trim().trim_matches('"');
        if let Ok(ip) = t.parse() {
            return Some(ip);
        }
        // `[v6]:port`, `[v6]` or `v4:port`.
        if let Some(rest) = t.strip_prefix('[') {
            return rest.split(']').next()?.parse().ok();
        }
        t.rsplit_once(':').and_then(|(host, _)| host.parse().ok())
    }
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(address)
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| address(v)).flatten()
            })
        })
        .collect()
}

/// How long a key checked in the database may stand in for it while the database cannot answer.
const STALE_KEY_FOR: Duration = Duration::from_secs(15 * 60);
/// How many checked keys are remembered.
const REMEMBERED_KEYS: usize = 10_000;
/// Longest a key check waits for the database.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// After the database failed to answer a key check, how long checks go to the remembered keys
/// straight away instead of each waiting for it.
const RETRY_DATABASE_AFTER: Duration = Duration::from_secs(5);

/// Finds callers from their tokens. Every request checks its key in the database, so a revoked
/// key stops at once; the keys found valid are remembered for a while, so that reads with a key
/// go on while the database restarts (as anonymous reads do, from the catalog). A key vouched for
/// from memory may read but not write, and a key seen revoked (here, or announced by another
/// instance through Redis) is never vouched for again.
#[derive(Default)]
pub struct Authenticator {
    known: Mutex<HashMap<String, (Caller, Instant)>>,
    revoked: Mutex<std::collections::HashSet<String>>,
    unreachable_since: Mutex<Option<Instant>>,
}

impl Authenticator {
    /// The caller of a request: anonymous without a token, an error for a wrong or revoked one.
    /// While the database cannot be reached, a key checked in the last 15 minutes passes (marked
    /// `from_memory`) and any other is `UNAVAILABLE` (503).
    pub async fn authenticate(&self, db: &DatabaseConnection, headers: &HeaderMap) -> Result<Caller> {
        self.authenticate_token(db, bearer(headers)?).await
    }

    /// The caller of a bearer token (none: anonymous).
    pub async fn authenticate_token(&self, db: &DatabaseConnection, token: Option<String>) -> Result<Caller> {
        let Some(token) = token else { return Ok(Caller::Anonymous) };
        let hash = keys::hash_token(&token);
        let found = match self.lookup(db, &hash).await {
            Ok(found) => found,
            Err(e) => return self.remembered(&hash).ok_or(e),
        };
        let caller = match found {
            Some(k) if k.revoked_at.is_none() => Caller::Key {
                role: Role::from_code(&k.role)
                    .ok_or_else(|| Error::Internal(format!("key {} has role {}", k.id, k.role)))?,
                id: k.id,
                name: k.name,
                owner: k.owner,
                quota: k.quota_per_minute.and_then(|q| u32::try_from(q).ok()),
                from_memory: false,
            },
            found => {
                if found.is_some() {
                    self.revoked_hash(&hash);
                }
                return Err(Error::Unauthenticated(
                    if found.is_some() { "this API key has been revoked" } else { "unknown API key" }.into(),
                ));
            }
        };
        self.remember(hash, &caller);
        Ok(caller)
    }

    /// A key was revoked (here or on another instance): never vouch for it again.
    pub fn revoked_hash(&self, hash: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(hash);
        }
        if let Ok(mut revoked) = self.revoked.lock() {
            if revoked.len() >= REMEMBERED_KEYS {
                revoked.clear();
            }
            revoked.insert(hash.to_owned());
        }
    }

    /// The key of a token hash in the database, unless the database just failed to answer.
    async fn lookup(&self, db: &DatabaseConnection, hash: &str) -> Result<Option<api_key::Model>> {
        let unreachable = || Error::Database(sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        let recently_down =
            self.unreachable_since.lock().ok().and_then(|g| *g).is_some_and(|t| t.elapsed() < RETRY_DATABASE_AFTER);
        if recently_down {
            return Err(unreachable());
        }
        let query = entities::prelude::ApiKey::find().filter(api_key::Column::TokenHash.eq(hash)).one(db);
        let result = match tokio::time::timeout(LOOKUP_TIMEOUT, query).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(Error::from(e)),
            Err(_) => Err(unreachable()),
        };
        if let Ok(mut since) = self.unreachable_since.lock() {
            *since = match &result {
                Err(e) if e.code() == "UNAVAILABLE" => Some(Instant::now()),
                _ => None,
            };
        }
        result
    }

    fn remembered(&self, hash: &str) -> Option<Caller> {
        if self.revoked.lock().ok()?.contains(hash) {
            return None;
        }
        let known = self.known.lock().ok()?;
        let (caller, checked) = known.get(hash)?;
        if checked.elapsed() >= STALE_KEY_FOR {
            return None;
        }
        tracing::debug!("the database cannot check keys: using a key checked {:?} ago", checked.elapsed());
        let mut caller = caller.clone();
        if let Caller::Key { from_memory, .. } = &mut caller {
            *from_memory = true;
        }
        Some(caller)
    }

    fn remember(&self, hash: String, caller: &Caller) {
        let Ok(mut known) = self.known.lock() else { return };
        if known.len() >= REMEMBERED_KEYS {
            known.retain(|_, (_, checked)| checked.elapsed() < STALE_KEY_FOR);
            if known.len() >= REMEMBERED_KEYS {
                known.clear();
            }
        }
        known.insert(hash, (caller.clone(), Instant::now()));
    }
}

/// The token and the client address of a request.
fn who(state: &crate::state::AppState, req: &axum::extract::Request) -> (Result<Option<String>>, Option<IpAddr>) {
    let addr = req
        .extensions()
        .get::<crate::net::Connection>()
        .map(|c| client_address(&state.config.trusted_proxies, c.peer.ip(), req.headers()));
    // Only the token crosses the awaits (a request's body is not shared between threads).
    (bearer(req.headers()), addr)
}

async fn admit(
    state: &crate::state::AppState,
    token: Result<Option<String>>,
    addr: Option<IpAddr>,
) -> Result<(Caller, Option<rate_limit::Allowance>)> {
    let caller = match token {
        Ok(token) => state.auth.authenticate_token(&state.db, token).await,
        Err(e) => Err(e),
    };
    match caller {
        Ok(caller) => state.limiter.check(&caller, addr).await.map(|a| (caller, a)),
        // Wrong keys count against the address's quota, so that guessing them is throttled too.
        Err(e @ Error::Unauthenticated(_)) => {
            Err(state.limiter.check(&Caller::Anonymous, addr).await.err().unwrap_or(e))
        }
        Err(e) => Err(e),
    }
}

/// An anonymous request counted against its address's quota before the router, handed to
/// [`identify`] so that it is not counted twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the quota (`None`: no quota).
    Anonymous(Option<rate_limit::Allowance>),
    /// Over it.
    RateLimited {
        /// Seconds until the next minute.
        retry_after: u64,
    },
}

/// The client's address of a request as the rate limits see it (through trusted proxies only).
pub fn client_of(state: &crate::state::AppState, req: &axum::extract::Request) -> Option<IpAddr> {
    who(state, req).1
}

/// Counts an anonymous request (a request without `Authorization`) against its address's quota.
pub async fn admit_anonymous(state: &crate::state::AppState, addr: Option<IpAddr>) -> Admission {
    match state.limiter.check(&Caller::Anonymous, addr).await {
        Ok(allowance) => Admission::Anonymous(allowance),
        Err(Error::RateLimited { retry_after }) => Admission::RateLimited { retry_after },
        // The limiter refuses with nothing else; were it to, the request would go on as if
        // within its quota rather than be refused without a reason.
        Err(_) => Admission::Anonymous(None),
    }
}

/// The client's address as the rate limits see it (through trusted proxies only), handed to the
/// handlers as an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Identifies the caller of a request (a wrong or revoked key is 401 `UNAUTHENTICATED`), counts
/// the request against its quota (429 `RATE_LIMITED` with `Retry-After`; the `RateLimit-*`
/// headers on the answer), and hands the caller and its address to the handler as extensions; a
/// refusal is answered by `refuse`.
async fn identify_with(
    state: crate::state::AppState,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
    refuse: fn(Error) -> axum::response::Response,
) -> axum::response::Response {
    let (token, addr) = who(&state, &req);
    let admitted = match req.extensions_mut().remove::<Admission>() {
        // Counted already, before the router (`tiles::hot`): counted once.
        Some(Admission::Anonymous(allowance)) => Ok((Caller::Anonymous, allowance)),
        Some(Admission::RateLimited { retry_after }) => Err(Error::RateLimited { retry_after }),
        None => admit(&state, token, addr).await,
    };
    match admitted {
        Ok((caller, allowance)) => {
            req.extensions_mut().insert(caller);
            if let Some(addr) = addr {
                req.extensions_mut().insert(ClientAddress(addr));
            }
            let mut response = next.run(req).await;
            if let Some(a) = allowance {
                a.write(response.headers_mut());
            }
            response
        }
        Err(e) => refuse(e),
    }
}

/// Route layer of the REST routes: errors as `{"error": {"code", "message"}}`.
pub async fn identify(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    identify_with(state, req, next, axum::response::IntoResponse::into_response).await
}

/// Route layer of the GraphQL routes: errors as a GraphQL response (`errors[].extensions.code`).
pub async fn identify_graphql(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    identify_with(state, req, next, graphql_refusal).await
}

fn graphql_refusal(e: Error) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = e.status_code();
    let retry = e.retry_after();
    let body = serde_json::json!({ "errors": [{ "message": e.public_message(), "extensions": { "code": e.code() } }] });
    let mut r = (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response();
    if let Some(s) = retry.and_then(|s| s.to_string().parse().ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, s);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.1.1.1".parse().expect("header"));
        let lb: IpAddr = "10.0.0.2".parse().expect("ip");
        // The nearest untrusted hop is the client: a client cannot choose its address by
        // prepending one, only the proxy's own addition counts.
        assert_eq!(client_address(&trusted, lb, &h), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        let direct: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(client_address(&trusted, direct, &h), direct, "spoofed from outside");
        let mut f = HeaderMap::new();
        f.insert(
            header::FORWARDED,
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe:1::17]:4711\"".parse().expect("h"),
        );
        assert_eq!(client_address(&trusted, lb, &f), "2001:db8:cafe:1::".parse::<IpAddr>().expect("ip"));
        // IPv6 clients count by /64.
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        assert_eq!(client_address(&[], a, &HeaderMap::new()), client_address(&[], b, &HeaderMap::new()));
    }

    fn bearing(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header value"));
        headers
    }

    #[tokio::test]
    async fn a_checked_key_outlives_a_database_outage_and_a_revoked_one_does_not() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display());
        let db = sea_orm::Database::connect(&url).await.expect("database");
        crate::db::migrate(&db).await.expect("migrations");
        let desk = keys::create(&db, "desk", Role::Editor, None, None).await.expect("key");
        let gone = keys::create(&db, "gone", Role::Editor, None, None).await.expect("key");
        let never = keys::create(&db, "never", Role::Partner, None, None).await.expect("key");
        let auth = Authenticator::default();

        let caller = auth.authenticate(&db, &bearing(&desk.token)).await.expect("valid key");
        assert_eq!(caller.role(), Some(Role::Editor));
        auth.authenticate(&db, &bearing(&gone.token)).await.expect("valid key");
        keys::revoke(&db, "gone").await.expect("revoked");
        assert!(matches!(auth.authenticate(&db, &bearing(&gone.token)).await, Err(Error::Unauthenticated(_))));

        // The pool is shared by every clone: closing it is the database going away.
        db.clone().close().await.expect("closed");
        let remembered = auth.authenticate(&db, &bearing(&desk.token)).await.expect("remembered key");
        assert_eq!(remembered.role(), Some(Role::Editor));
        assert!(
            remembered.require_editing().is_err_and(|e| e.code() == "UNAVAILABLE"),
            "a write with a key not checked now"
        );
        // A revocation announced by another instance while this one cannot reach the database.
        auth.revoked_hash(&keys::hash_token(&desk.token));
        assert!(auth.authenticate(&db, &bearing(&desk.token)).await.is_err(), "an announced revocation is remembered");
        // Neither a revoked key nor one never checked is vouched for without the database.
        assert!(matches!(auth.authenticate(&db, &bearing(&gone.token)).await, Err(Error::Database(_))));
        match auth.authenticate(&db, &bearing(&never.token)).await {
            Err(e) => {
                assert_eq!((e.code(), e.status_code().as_u16(), e.retry_after()), ("UNAVAILABLE", 503, Some(5)));
            }
            Ok(c) => panic!("a key never checked passed without the database: {c:?}"),
        }
        assert_eq!(auth.authenticate(&db, &HeaderMap::new()).await.expect("no key"), Caller::Anonymous);
    }
}
