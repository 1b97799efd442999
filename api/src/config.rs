//! The command line and its configuration, parsed once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The tourist-offer API of La Porte du Hainaut.
#[derive(Debug, Parser)]
#[command(name = "api", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate and seed the database if needed, then serve HTTP (the default).
    Serve,
    /// Apply pending migrations (or roll them back).
    Migrate {
        /// Roll every migration back instead.
        #[arg(long)]
        down: bool,
    },
    /// Load the territory's reference data (idempotent), or synthetic data for scale tests.
    Seed {
        /// What else to load.
        #[command(subcommand)]
        what: Option<SeedCommand>,
    },
    /// Print the GraphQL schema (SDL), as committed in `api/schema.graphql`.
    Schema,
    /// Import offers from another system.
    Import {
        /// From which system.
        #[command(subcommand)]
        from: ImportCommand,
    },
    /// QR signage codes.
    Qr {
        /// What to do with codes.
        #[command(subcommand)]
        action: QrCommand,
    },
    /// Manage API keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        action: KeysCommand,
    },
}

/// `api seed …`.
#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Add N clearly fictional offers over the Hauts-de-France box (scale tests only).
    Synth {
        /// How many offers.
        #[arg(long)]
        offers: usize,
        /// Seed of the generator (the same seed gives the same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// `api import …`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// DATAtourisme JSON-LD objects: files, folders of them, or the zip of a flux export.
    Datatourisme {
        /// Files, folders or zip archives.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Status of new offers: published (public at once) or draft (for an editor to review).
        #[arg(long, env = "IMPORT_STATUS", default_value = "published", value_parser = ["published", "draft"])]
        status: String,
    },
    /// Atout France's register of classified accommodation (the national CSV file, as published):
    /// the establishments of the territory's communes, in order of the files given.
    AtoutFrance {
        /// CSV files of the register.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Status of new offers: published (public at once) or draft (for an editor to review).
        #[arg(long, env = "IMPORT_STATUS", default_value = "published", value_parser = ["published", "draft"])]
        status: String,
    },
}

/// `api qr …`.
#[derive(Debug, Subcommand)]
pub enum QrCommand {
    /// Give every totem and corrélat without a code one (idempotent).
    Generate,
}

/// `api keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its token (shown once; only a hash is stored).
    Create {
        /// A name for the key (shown in the offer history).
        #[arg(long)]
        name: String,
        /// admin, editor, provider or partner.
        #[arg(long)]
        role: String,
        /// Organisation whose offers a provider key may edit.
        #[arg(long)]
        owner: Option<String>,
        /// Requests per minute, instead of the role's default.
        #[arg(long)]
        quota: Option<u32>,
    },
    /// List the keys (never their tokens).
    List,
    /// Revoke a key by id or name.
    Revoke {
        /// Id or name of the key.
        key: String,
    },
}

/// Settings, from flags or the environment.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://…`; default: an SQLite file under `./data/`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL (optional): shared caches, rate limits, version announcements.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Public base URL of this API, for absolute links (TileJSON, feeds, QR codes).
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Website where a person is sent (offer pages, QR redirects).
    #[arg(long, env = "WEBSITE_URL", default_value = "https://www.tourisme-porteduhainaut.fr", global = true)]
    pub website_url: String,
    /// Folder of the default SQLite database.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// File where the catalog is kept between runs: a start-up reads it back instead of every row,
    /// then applies what was committed since. Default: `catalog.snapshot` in the data folder with
    /// the default SQLite database, none otherwise; `off` for none.
    #[arg(long, env = "CATALOG_SNAPSHOT", global = true)]
    pub catalog_snapshot: Option<String>,
    /// Do not load the territory on an empty database.
    #[arg(long, env = "NO_SEED", global = true)]
    pub no_seed: bool,
    /// Requests per minute per anonymous client address (0: unlimited).
    #[arg(long, env = "RATE_LIMIT_ANONYMOUS", default_value_t = 3000, global = true)]
    pub rate_limit_anonymous: u32,
    /// Requests per minute per partner key (0: unlimited).
    #[arg(long, env = "RATE_LIMIT_PARTNER", default_value_t = 30000, global = true)]
    pub rate_limit_partner: u32,
    /// Requests per minute per provider, editor or admin key (0: unlimited).
    #[arg(long, env = "RATE_LIMIT_STAFF", default_value_t = 6000, global = true)]
    pub rate_limit_staff: u32,
    /// Seconds between two polls of the catalog version in the database (other instances' writes).
    #[arg(long, env = "CATALOG_POLL_SECONDS", default_value_t = 2, global = true)]
    pub catalog_poll_seconds: u64,
    /// Megabytes of encoded tiles and layers kept in process (keys and bodies counted); 0 turns the
    /// response cache off (benchmarks of cold tiles, debugging).
    #[arg(long, env = "CACHE_MB", default_value_t = 256, global = true)]
    pub cache_mb: u64,
    /// Open connections in total (default: what the process's file descriptor limit allows).
    #[arg(long, env = "MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Open connections from one client address (an IPv6 /64 counts as one address).
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, global = true)]
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a whole request head; a keep-alive connection idle that long
    /// is closed.
    #[arg(long, env = "HEADER_TIMEOUT_SECONDS", default_value_t = 15, global = true)]
    pub header_timeout_seconds: u64,
    /// Proxies (addresses or CIDR blocks, comma-separated) whose `X-Forwarded-For` and `Forwarded`
    /// headers are believed for the client's address; no other's are.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = proxy, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins whose pages may call the API from a browser (comma-separated, e.g.
    /// `https://www.tourisme-porteduhainaut.fr,https://partner.example`), or `*` for every origin.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = origin, default_value = "*", global = true)]
    pub cors_origins: Vec<CorsOrigin>,
}

/// An origin allowed to call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// Every origin.
    Any,
    /// One origin, as browsers send it in `Origin` (`scheme://host[:port]`).
    Exact(String),
}

/// Reads an origin of `CORS_ORIGINS`.
fn origin(text: &str) -> Result<CorsOrigin, String> {
    let text = text.trim();
    if text == "*" {
        return Ok(CorsOrigin::Any);
    }
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} is not an http or https origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("{text:?} is not an origin: give scheme://host[:port] only"));
    }
    // Serialised the way browsers send it: lowercase, no default port, no trailing slash.
    Ok(CorsOrigin::Exact(url.origin().ascii_serialization()))
}

/// Reads a proxy: an address or a CIDR block.
fn proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
}

impl Config {
    /// The database URL to use, defaulting to an SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("porte-du-hainaut.db").display()),
        }
    }

    /// The catalog snapshot file, if any (see `catalog_snapshot`).
    pub fn snapshot_path(&self) -> Option<PathBuf> {
        match self.catalog_snapshot.as_deref().map(str::trim) {
            Some("off" | "") => None,
            Some(path) => Some(PathBuf::from(path)),
            None if self.database_url.is_none() => Some(self.data_dir.join("catalog.snapshot")),
            None => None,
        }
    }

    /// Checks the settings a server needs: `PUBLIC_URL` is an `http(s)` origin (and path), and
    /// it is required unless the server listens on a loopback address only. Without it absolute
    /// links would come from the request's `Host`, which anyone can forge.
    pub fn check_for_serving(&self) -> Result<(), String> {
        match &self.public_url {
            Some(text) => {
                let url = url::Url::parse(text).map_err(|e| format!("PUBLIC_URL {text:?} is not a URL: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
                    return Err(format!("PUBLIC_URL {text:?} must be an http or https URL with a host"));
                }
                if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
                    return Err(format!("PUBLIC_URL {text:?} must have no query, fragment or credentials"));
                }
                Ok(())
            }
            None if self.bind.ip().is_loopback() => Ok(()),
            None => Err(format!(
                "PUBLIC_URL is required when listening on {} (not a loopback address): absolute links \
                 (QR codes, feeds, TileJSON) must not come from the request's Host header. Set it to the \
                 address clients use, e.g. PUBLIC_URL=https://api.example.org",
                self.bind
            )),
        }
    }

    /// The origins allowed by `CORS_ORIGINS`, or `None` when every origin is.
    pub fn cors_list(&self) -> Option<Vec<String>> {
        if self.cors_origins.is_empty() || self.cors_origins.contains(&CorsOrigin::Any) {
            return None;
        }
        Some(
            self.cors_origins
                .iter()
                .filter_map(|o| match o {
                    CorsOrigin::Exact(o) => Some(o.clone()),
                    CorsOrigin::Any => None,
                })
                .collect(),
        )
    }

    /// Whether a request from a page of `origin` may call the API.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.cors_list().is_none_or(|list| list.iter().any(|o| o == origin))
    }

    /// Whether absolute links follow the request's `Host` (no `PUBLIC_URL`: development on
    /// loopback): such responses vary by `Host` and must not be cached publicly.
    pub fn links_follow_host(&self) -> bool {
        self.public_url.is_none()
    }

    /// The public base URL, without a trailing slash (`http://{bind}` when unset).
    pub fn public_url(&self) -> String {
        let url = self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.bind));
        url.trim_end_matches('/').to_owned()
    }

    /// The base URL for links in a response: `PUBLIC_URL` when set, else the request's `Host`
    /// (when it is a plain host name or address), else the bound address.
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        if self.public_url.is_some() {
            return self.public_url();
        }
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).filter(|h| {
            !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
        match host {
            Some(host) => format!("http://{host}"),
            None => self.public_url(),
        }
    }

    /// The website base URL, without a trailing slash.
    pub fn website_url(&self) -> String {
        self.website_url.trim_end_matches('/').to_owned()
    }
}
