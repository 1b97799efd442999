//! The one error type of the API: a stable code and status for the client, detail in the logs.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every failure a request can meet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client sent something invalid; the message says what.
    #[error("{0}")]
    BadUserInput(String),
    /// A field of an input is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field, e.g. `input.location.lat`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing at that id, slug or path.
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials without the right.
    #[error("{0}")]
    Forbidden(String),
    /// The resource changed meanwhile.
    #[error("{message}")]
    Conflict {
        /// What happened.
        message: String,
        /// The version it is at now, when known.
        current_version: Option<i32>,
    },
    /// Too many requests.
    #[error("too many requests, retry in {retry_after} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Something this request needs cannot be checked for now (a key while the database is
    /// away); the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// The server could not start.
    #[error("start-up: {0}")]
    Startup(String),
    /// Anything else that is our fault.
    #[error("internal error")]
    Internal(String),
}

/// Seconds to wait after the database could not be reached.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// Whether a database error means the database cannot be reached now (it restarts, the network
/// fails, the pool has no connection to give) rather than a fault of the query: such an error is
/// a 503 `UNAVAILABLE` with `Retry-After`, which clients may retry.
fn unreachable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
            // Another writer held the rows too long (PostgreSQL's lock_timeout, SQLite's busy
            // database): nothing was written, and trying again shortly will do.
            Sqlx::Database(d) => matches!(d.code().as_deref(), Some("55P03" | "40001" | "40P01" | "5" | "517")),
            _ => false,
        },
        _ => false,
    }
}

/// Results of the API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadUserInput(_) | Error::Invalid { .. } => "BAD_USER_INPUT",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::Conflict { .. } => "CONFLICT",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::Unavailable(_) => "UNAVAILABLE",
            Error::Database(e) if unreachable(e) => "UNAVAILABLE",
            Error::Database(_) | Error::Startup(_) | Error::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status of the error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::BadUserInput(_) | Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(e) if unreachable(e) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds the client should wait before trying again, for the errors that pass.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            Error::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            Error::Database(e) if unreachable(e) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        }
    }

    /// The message shown to the client: internal detail is logged, never returned.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database(e) if unreachable(e) => {
                tracing::warn!(error = %e, "the database cannot be reached");
                "the database cannot be reached for now: retry shortly".to_owned()
            }
            Error::Database(_) | Error::Startup(_) | Error::Internal(_) => {
                tracing::error!(error = ?self, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Converts into a GraphQL error carrying `extensions.code`.
    pub fn into_graphql(self) -> async_graphql::Error {
        let code = self.code();
        let retry = self.retry_after();
        let field = if let Error::Invalid { field, .. } = &self { Some(field.clone()) } else { None };
        let current = if let Error::Conflict { current_version, .. } = &self { *current_version } else { None };
        async_graphql::Error::new(self.public_message()).extend_with(|_, e| {
            e.set("code", code);
            if let Some(r) = retry {
                e.set("retryAfter", r);
            }
            if let Some(f) = &field {
                e.set("field", f.as_str());
            }
            if let Some(v) = current {
                e.set("currentVersion", v);
            }
        })
    }
}

impl Error {
    /// A conflict with the version the resource is at now.
    pub fn conflict(message: impl Into<String>, current_version: i32) -> Error {
        Error::Conflict { message: message.into(), current_version: Some(current_version) }
    }
}

impl From<entities::domain::check::Invalid> for Error {
    fn from(e: entities::domain::check::Invalid) -> Error {
        Error::Invalid { field: e.field, message: e.message }
    }
}

impl From<entities::write::WriteError> for Error {
    fn from(e: entities::write::WriteError) -> Error {
        use entities::write::WriteError;
        match e {
            WriteError::Invalid(i) => i.into(),
            WriteError::Conflict { current } => {
                Error::conflict(format!("the offer changed meanwhile: current version is {current}"), current)
            }
            WriteError::NotFound(m) => Error::NotFound(m),
            WriteError::Db(e) => Error::Database(e),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = json!({ "error": { "code": self.code(), "message": self.public_message() } });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(v) = self.retry_after().and_then(|s| s.to_string().parse().ok()) {
            response.headers_mut().insert("retry-after", v);
        }
        response
    }
}
