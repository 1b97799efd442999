//! The application state shared by every handler.

use std::sync::Arc;

use axum::extract::FromRef;
use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::RateLimiter;
use crate::catalog::CatalogHandle;
use crate::config::Config;
use crate::events::Events;
use crate::graphql::ApiSchema;
use crate::graphql::persisted::PersistedQueries;
use crate::http_cache::ResponseCache;
use crate::shared::SharedStore;

/// Everything a request may need, behind one `Arc`: axum clones the state for every middleware
/// and extractor of every request, and a clone is one reference count, not one per service (the
/// profile of hot tiles spent a third of its time cloning and dropping a struct of thirteen
/// reference-counted fields; see BENCHMARKS.md). Handlers take the parts they need (axum's
/// `FromRef`): `State<Reads>`, `State<Arc<CatalogHandle>>`, `State<Arc<Config>>`…
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state over these services.
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for Arc<CatalogHandle> {
    fn from_ref(state: &AppState) -> Arc<CatalogHandle> {
        state.catalog.clone()
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> DatabaseConnection {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Arc<Config> {
        state.config.clone()
    }
}

/// The services of an [`AppState`].
pub struct Services {
    /// The database, source of truth.
    pub db: DatabaseConnection,
    /// Where the mutations of the offer run, with their own pool.
    pub lane: Arc<crate::lane::WriteLane>,
    /// The published offer in memory.
    pub catalog: Arc<CatalogHandle>,
    /// Settings.
    pub config: Arc<Config>,
    /// The GraphQL schema.
    pub schema: ApiSchema,
    /// Checked GraphQL documents, by text.
    pub documents: Arc<crate::graphql::documents::Documents>,
    /// State shared with the other instances (Redis), or nothing.
    pub shared: SharedStore,
    /// Automatic persisted queries.
    pub persisted: Arc<PersistedQueries>,
    /// Encoded tiles and layers, by catalog version.
    pub cache: Arc<ResponseCache>,
    /// Announcements of offer changes.
    pub events: Events,
    /// Rate limits.
    pub limiter: Arc<RateLimiter>,
    /// API keys, checked and remembered.
    pub auth: Arc<crate::auth::Authenticator>,
    /// QR codes already read (a code never changes target).
    pub qr_codes: Arc<crate::qr::codes::Resolved>,
    /// QR scan counts, throttled per client and code.
    pub scans: Arc<crate::qr::scans::Scans>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::stats::metrics::Metrics>,
}

/// What the read-only handlers of maps, layers, feeds and OGC API need: the catalog, the cache of
/// encoded responses and the settings.
#[derive(Clone)]
pub struct Reads {
    /// The published offer in memory.
    pub catalog: Arc<CatalogHandle>,
    /// Encoded tiles, layers and feeds.
    pub cache: Arc<ResponseCache>,
    /// Settings.
    pub config: Arc<Config>,
}

impl FromRef<AppState> for Reads {
    fn from_ref(state: &AppState) -> Reads {
        Reads { catalog: state.catalog.clone(), cache: state.cache.clone(), config: state.config.clone() }
    }
}

/// Base URLs used to build absolute links.
#[derive(Debug, Clone)]
pub struct Urls {
    /// This API, without trailing slash.
    pub public: String,
    /// The website, without trailing slash.
    pub website: String,
}

impl Urls {
    /// The public page of an offer on the website.
    pub fn offer_page(&self, slug: &str) -> String {
        format!("{}/offres/{slug}", self.website)
    }
}
