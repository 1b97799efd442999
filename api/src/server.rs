//! Start-up, the router, background refresh of the catalog, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Role;
use crate::auth::rate_limit::{Quotas, RateLimiter};
use crate::catalog::{Catalog, CatalogHandle};
use crate::config::{Cli, Command, Config, ImportCommand, KeysCommand, QrCommand, SeedCommand};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::graphql::persisted::PersistedQueries;
use crate::http_cache::ResponseCache;
use crate::shared::SharedStore;
use crate::state::AppState;
use crate::{auth, cors, db, feeds, graphql, health, layers, net, ogc, qr, tiles, web};

/// Largest request body accepted (GraphQL documents and mutations).
pub const BODY_LIMIT: usize = 256 * 1024;
/// Longest a request body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest running requests may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(15);

/// The route of a vector tile.
pub const TILE_ROUTE: &str = "/tiles/{layers}/{z}/{x}/{y}";

/// Builds the whole application. Who may do what is attached to the routes: the GraphQL routes
/// identify the caller and count its quota with GraphQL-shaped errors, the other public routes
/// the same with JSON errors; probes and static assets are left alone. A tile this process
/// holds is answered before the router ([`tiles::hot::Lane`]), with the same headers, counts and
/// logs.
pub fn router(state: AppState) -> tiles::hot::Lane {
    let graphql = Router::new()
        .route("/graphql", get(graphql::http::get).post(graphql::http::post))
        .route("/graphql/ws", get(graphql::ws::handler))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::identify_graphql));
    let public = Router::new()
        .route("/graphql/schema.graphql", get(graphql::http::schema))
        .route("/layers", get(layers::index))
        .route("/tiles/style.json", get(tiles::style::style))
        .route("/tiles/{file}", get(tiles::tilejson))
        .route("/feeds/changes", get(feeds::changes))
        .route("/q/{file}", get(qr::resolve))
        .route("/q/{code}/sign.svg", get(qr::sign))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/api", get(ogc::openapi))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::one_collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/items/{fid}", get(ogc::item))
        .route("/map", get(web::map::page))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::identify));
    // Tiles, layers and feeds come from the response cache in the coding the request accepts,
    // with their own validators and `Vary`: they are not wrapped for compression again.
    let encoded = Router::new()
        .route("/layers/{file}", get(layers::layer))
        .route(TILE_ROUTE, get(tiles::tile))
        .route("/feeds/offers.geojson", get(feeds::offers::geojson))
        .route("/feeds/offers.jsonld", get(feeds::offers::jsonld))
        .route("/feeds/events.ics", get(feeds::offers::ics))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::identify));
    let open = Router::new()
        .route("/", get(web::landing))
        .route("/docs", get(web::docs))
        .route("/assets/{file}", get(web::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::stats::metrics::metrics));
    let all = graphql.merge(public).merge(open).layer(CompressionLayer::new()).merge(encoded);
    tiles::hot::Lane::new(state.clone(), cors::layer(&state.config), with_outer_layers(all, &state))
}

/// The layers every answer goes through, the innermost first.
fn with_outer_layers(routes: Router<AppState>, state: &AppState) -> Router {
    routes
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"error": {"code": "NOT_FOUND", "message": "no such path"}})),
            )
        })
        // The router adds `Allow` with the methods the path takes.
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            let message = format!("{method} is not accepted here: see the Allow header");
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(serde_json::json!({"error": {"code": "METHOD_NOT_ALLOWED", "message": message}})),
            )
        })
        .layer(axum::middleware::from_fn_with_state(state.config.clone(), edge))
        .layer(cors::layer(&state.config))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::stats::metrics::middleware))
        // A bug must cost one request a 500, never the connection (nor leak its detail).
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("a request handler panicked");
            Error::Internal("panic".into()).into_response()
        }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A body that trickles in is cut: 408 after this long.
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| access_span(req.method(), req.uri().path()))
                .on_request(())
                .on_response(|res: &axum::http::Response<_>, latency: Duration, _span: &tracing::Span| {
                    access_log(res.status(), latency);
                }),
        )
        .with_state(state.clone())
}

/// Where the line of each request is logged: `RUST_LOG=info,api::access=off` keeps the other
/// logs without them.
pub const ACCESS_TARGET: &str = "api::access";

/// The span of a request: what its logs are tied to.
pub fn access_span(method: &axum::http::Method, path: &str) -> tracing::Span {
    tracing::info_span!(target: ACCESS_TARGET, "http", %method, path)
}

/// The line of an answered request (in its span).
pub fn access_log(status: StatusCode, latency: Duration) {
    tracing::info!(target: ACCESS_TARGET, status = status.as_u16(), ms = latency.as_secs_f64() * 1000.0, "request");
}

/// What every answer of the router goes through, as one layer (each layer costs every request a
/// boxed future and a service clone): a page of a foreign origin is refused (`cors::refusal`),
/// then the security headers are set and, without `PUBLIC_URL`, links follow the host.
async fn edge(
    axum::extract::State(config): axum::extract::State<Arc<Config>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = match cors::refusal(&config, &req) {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    dress(&config, &mut response);
    response
}

/// The headers `edge` adds to an answer: the security headers and, without `PUBLIC_URL`, what
/// says that links follow the host.
pub fn dress(config: &Config, response: &mut axum::response::Response) {
    security_headers(response);
    links_follow_host(config, response);
}

/// Without `PUBLIC_URL` (a server on loopback), links follow the request's `Host`: every response
/// says so (`Vary: Host`) and none is cached by a shared cache, so that a forged `Host` can reach
/// nobody but its sender.
fn links_follow_host(config: &Config, response: &mut axum::response::Response) {
    if config.links_follow_host() {
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("host"));
        let public = headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("public")))
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|d| !d.eq_ignore_ascii_case("public") && !d.to_ascii_lowercase().starts_with("s-maxage"))
                    .chain(std::iter::once("private"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        if let Some(v) = public.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::CACHE_CONTROL, v);
        }
    }
}

/// The policy of our HTML pages: everything from our own origin, nothing inline but styles set
/// by scripts, no framing, no referrer beyond the origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
     child-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers: on every response `X-Content-Type-Options: nosniff` and a referrer policy;
/// on HTML pages also the content security policy and frame refusal; SVG images may run nothing.
fn security_headers(response: &mut axum::response::Response) {
    let media = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (html, svg) = (media.starts_with("text/html"), media.starts_with("image/svg+xml"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    } else if svg {
        // An SVG opened on its own is a document too: it may run nothing.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
}

/// Opens the database, migrates, seeds an empty one, and loads the catalog.
pub async fn prepare(config: &Config) -> Result<AppState> {
    let db = db::connect(config).await?;
    db::migrate(&db).await?;
    if !config.no_seed {
        db::seed_if_empty(&db).await?;
    }
    let snapshot = config.snapshot_path();
    let restored = match &snapshot {
        Some(path) => Catalog::restore(&db, path).await?,
        None => None,
    };
    let restored_at = restored.as_ref().map(|c| c.version);
    let catalog = match restored {
        Some(catalog) => catalog,
        None => Catalog::load(&db).await?,
    };
    let catalog = Arc::new(CatalogHandle::new(catalog));
    if restored_at.is_some() {
        // What other processes committed since the snapshot was written, as deltas (or a
        // rebuild when it is too much).
        catalog.catch_up(&db).await?;
    }
    let loaded = catalog.get();
    tracing::info!(version = loaded.version, offers = loaded.len(), "catalog loaded");
    // A catalog read from the database (or caught up a long way) is written out for the next
    // start-up, off the request path.
    if let Some(path) = snapshot.filter(|_| restored_at.is_none_or(|v| loaded.version - v > SNAPSHOT_STALE_VERSIONS)) {
        let db = db.clone();
        tokio::spawn(async move { save_snapshot(&db, &path, loaded).await });
    }
    let shared = match &config.redis_url {
        Some(url) => {
            SharedStore::connect(url).map_err(|e| Error::Startup(format!("REDIS_URL is not a Redis URL: {e}")))?
        }
        None => SharedStore::none(),
    };
    let events = Events::new(shared.clone());
    let documents = Arc::new(graphql::documents::Documents::default());
    let cache = Arc::new(ResponseCache::new(shared.clone(), config.cache_mb.saturating_mul(1024 * 1024)));
    let limiter = RateLimiter::new(
        Quotas {
            anonymous: config.rate_limit_anonymous,
            partner: config.rate_limit_partner,
            staff: config.rate_limit_staff,
        },
        shared.clone(),
    );
    let lane = Arc::new(crate::lane::WriteLane::start(config, &db).await?);
    Ok(AppState::new(crate::state::Services {
        db,
        lane,
        catalog,
        config: Arc::new(config.clone()),
        schema: graphql::build_schema(documents.clone()),
        documents,
        events,
        limiter: Arc::new(limiter),
        auth: Arc::default(),
        metrics: Arc::new(crate::stats::metrics::Metrics::new(&cache)),
        persisted: Arc::new(PersistedQueries::new(shared.clone())),
        scans: Arc::new(qr::scans::Scans::new(shared.clone())),
        qr_codes: Arc::default(),
        cache,
        shared,
    }))
}

/// Versions a restored catalog may have caught up before it is written out again at start-up.
const SNAPSHOT_STALE_VERSIONS: i64 = 1_000;

/// Writes the catalog snapshot, logging the outcome (a failure only costs the next start-up time).
async fn save_snapshot(db: &DatabaseConnection, path: &std::path::Path, catalog: Arc<Catalog>) {
    let (version, started) = (catalog.version, std::time::Instant::now());
    match crate::catalog::snapshot::save(db, path, catalog).await {
        Ok(Some(bytes)) => tracing::info!(
            path = %path.display(),
            version,
            bytes,
            ms = started.elapsed().as_millis(),
            "catalog snapshot written"
        ),
        Ok(None) => tracing::debug!(version, "catalog snapshot not written: its version has no change row"),
        Err(e) => tracing::warn!(error = ?e, "catalog snapshot not written"),
    }
}

/// Polls the catalog version in the database and catches up when another process wrote and its
/// announcement was lost (or there is no Redis).
fn spawn_catalog_poll(db: DatabaseConnection, catalog: Arc<CatalogHandle>, every: Duration) {
    crate::tasks::supervise("catalog-poll", move || {
        let (db, catalog) = (db.clone(), catalog.clone());
        async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match entities::write::catalog_version(&db).await {
                    Ok(v) if v > catalog.get().version => {
                        if let Err(e) = catalog.catch_up_to(&db, v).await {
                            tracing::warn!(error = %e.public_message(), "catching up failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the catalog version"),
                }
            }
        }
    });
}

/// Installs the SIGINT/SIGTERM handlers now (before the server says it listens, so a signal
/// sent right after is never lost) and returns the future that completes on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Startup(format!("cannot handle SIGTERM: {e}")))?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::Startup(format!("cannot handle SIGINT: {e}")))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = terminate.recv() => {}, _ = interrupt.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

/// Serves HTTP until SIGINT or SIGTERM.
pub async fn serve(config: &Config) -> Result<()> {
    config.check_for_serving().map_err(Error::Startup)?;
    let state = prepare(config).await?;
    spawn_catalog_poll(
        state.db.clone(),
        state.catalog.clone(),
        Duration::from_secs(config.catalog_poll_seconds.max(1)),
    );
    state.events.spawn_listener(state.db.clone(), state.catalog.clone(), state.auth.clone());
    state.scans.spawn_flusher(state.db.clone());
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| Error::Startup(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr().map_err(|e| Error::Startup(e.to_string()))?;
    let shutdown = shutdown_signal()?;
    // The tests read this line to learn the port when they bind port 0.
    tracing::info!(%addr, "listening on http://{addr}");
    let limits = net::ConnectionLimits {
        total: config.max_connections.unwrap_or_else(net::descriptor_budget).max(1),
        per_address: config.max_connections_per_address.max(1),
        head_timeout: Duration::from_secs(config.header_timeout_seconds.max(1)),
        exempt: config.trusted_proxies.clone(),
    };
    tracing::info!(
        total = limits.total,
        per_address = limits.per_address,
        head_timeout_s = limits.head_timeout.as_secs(),
        "connection limits"
    );
    let app = router(state.clone());
    net::serve(listener, || app.for_connection(), limits, shutdown, DRAIN).await;
    // The catalog as it is now, so that the next start-up has little to catch up.
    if let Some(path) = config.snapshot_path() {
        let catalog = state.catalog.get();
        if crate::catalog::snapshot::saved_version(&path) != Some(catalog.version) {
            save_snapshot(&state.db, &path, catalog).await;
        }
    }
    // Counts still in memory or in Redis go to the database before the process ends.
    if let Err(e) = state.scans.flush(&state.db).await {
        tracing::warn!(error = %e.public_message(), "last QR scan flush failed");
    }
    state.db.clone().close().await?;
    Ok(())
}

async fn keys_command(config: &Config, action: KeysCommand) -> Result<()> {
    use std::io::Write;
    let db = db::connect(config).await?;
    db::migrate(&db).await?;
    let mut out = std::io::stdout();
    let write =
        |out: &mut std::io::Stdout, line: String| writeln!(out, "{line}").map_err(|e| Error::Internal(e.to_string()));
    match action {
        KeysCommand::Create { name, role, owner, quota } => {
            let role = Role::from_code(&role)
                .ok_or_else(|| Error::BadUserInput("--role is admin, editor, provider or partner".into()))?;
            let created = auth::keys::create(&db, &name, role, owner.as_deref(), quota).await?;
            tracing::info!(id = %created.key.id, name = %created.key.name, role = %created.key.role, "key created; its token is printed once");
            write(&mut out, created.token)?;
        }
        KeysCommand::List => {
            for k in auth::keys::list(&db).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                write(
                    &mut out,
                    format!("{}\t{}\t{}\t{}\t{}", k.id, k.name, k.role, k.owner.unwrap_or_default(), state),
                )?;
            }
        }
        KeysCommand::Revoke { key } => {
            let k = auth::keys::revoke(&db, &key).await?;
            // Running instances stop vouching for it even while they cannot reach the database.
            if let Some(url) = &config.redis_url {
                let shared = SharedStore::connect(url)
                    .map_err(|e| Error::Startup(format!("REDIS_URL is not a Redis URL: {e}")))?;
                if shared.connected_within(Duration::from_secs(3)).await {
                    Events::new(shared).announce_revocation(&k.token_hash).await;
                } else {
                    tracing::warn!("Redis unreachable: running instances learn of the revocation from the database");
                }
            }
            write(&mut out, format!("revoked {} ({})", k.id, k.name))?;
        }
    }
    Ok(())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config).await,
        Command::Migrate { down } => {
            let db = db::connect(&cli.config).await?;
            if down {
                db::migrate_down(&db).await?;
                tracing::info!("every migration rolled back");
            } else {
                db::migrate(&db).await?;
                tracing::info!("migrations applied");
            }
            Ok(())
        }
        Command::Schema => {
            use std::io::Write;
            std::io::stdout().write_all(graphql::sdl().as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
            Ok(())
        }
        Command::Keys { action } => keys_command(&cli.config, action).await,
        Command::Import { from: ImportCommand::Datatourisme { paths, status } } => {
            use std::io::Write;
            let db = db::connect(&cli.config).await?;
            db::migrate(&db).await?;
            let status = entities::vocab::OfferStatus::from_code(&status)
                .ok_or_else(|| Error::BadUserInput("--status is published or draft".into()))?;
            let options = seed::datatourisme::ImportOptions { status };
            let report =
                seed::datatourisme::import(&db, &paths, options).await.map_err(|e| Error::Internal(e.to_string()))?;
            let mut out = std::io::stdout();
            let mut lines = vec![format!(
                "created {}, updated {}, unchanged {}, rejected {} (known by their bytes: {})",
                report.created,
                report.updated,
                report.unchanged,
                report.rejected.len(),
                report.known
            )];
            lines.extend(report.rejected.iter().map(|(name, why)| format!("rejected {name}: {why}")));
            for l in lines {
                writeln!(out, "{l}").map_err(|e| Error::Internal(e.to_string()))?;
            }
            Ok(())
        }
        Command::Import { from: ImportCommand::AtoutFrance { paths, status } } => {
            use std::io::Write;
            let db = db::connect(&cli.config).await?;
            db::migrate(&db).await?;
            db::seed_if_empty(&db).await?;
            let status = entities::vocab::OfferStatus::from_code(&status)
                .ok_or_else(|| Error::BadUserInput("--status is published or draft".into()))?;
            let mut out = std::io::stdout();
            for path in paths {
                let file = std::fs::File::open(&path)
                    .map_err(|e| Error::BadUserInput(format!("cannot read {}: {e}", path.display())))?;
                let r = seed::atout_france::import(&db, std::io::BufReader::new(file), status)
                    .await
                    .map_err(|e| Error::BadUserInput(format!("{}: {e}", path.display())))?;
                let mut lines = vec![format!(
                    "{}: read {}, in territory {}, created {}, updated {}, unchanged {}, declassified {}, unmatched {}, rejected {}",
                    path.display(),
                    r.read,
                    r.in_territory,
                    r.created,
                    r.updated,
                    r.unchanged,
                    r.declassified,
                    r.unmatched.len(),
                    r.rejected.len()
                )];
                lines.extend(r.unmatched.iter().map(|u| format!("unmatched {u}: not a commune of the territory")));
                lines.extend(r.rejected.iter().map(|(name, why)| format!("rejected {name}: {why}")));
                for l in lines {
                    writeln!(out, "{l}").map_err(|e| Error::Internal(e.to_string()))?;
                }
            }
            Ok(())
        }
        Command::Qr { action: QrCommand::Generate } => {
            let db = db::connect(&cli.config).await?;
            db::migrate(&db).await?;
            let (created, kept) = qr::generate(&db).await?;
            tracing::info!(created, kept, "QR codes for every totem and corrélat");
            Ok(())
        }
        Command::Seed { what: Some(SeedCommand::Synth { offers, seed }) } => {
            let db = db::connect(&cli.config).await?;
            db::migrate(&db).await?;
            db::seed_if_empty(&db).await?;
            let n = seed::synth::generate(&db, offers, seed).await?;
            tracing::info!(offers = n, "synthetic offers added (fictional, source = synthetic)");
            Ok(())
        }
        Command::Seed { what: None } => {
            let db = db::connect(&cli.config).await?;
            db::migrate(&db).await?;
            let report = db::seed(&db).await?;
            tracing::info!(
                created = report.created,
                updated = report.updated,
                unchanged = report.unchanged,
                "seed done"
            );
            Ok(())
        }
    }
}
