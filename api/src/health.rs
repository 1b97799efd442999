//! Liveness and readiness probes.

use crate::extract::Query;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// What `/readyz` may be asked.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ReadyParams {
    /// Add the digest of the catalog (every record and index entry), to compare instances.
    #[serde(default)]
    pub digest: bool,
}

/// `GET /readyz`: the database answers and the catalog is loaded; `?digest=true` adds the
/// catalog's digest (two instances with the same digest serve the same reads).
pub async fn readyz(
    State(db): State<sea_orm::DatabaseConnection>,
    State(catalog): State<std::sync::Arc<crate::catalog::CatalogHandle>>,
    Query(p): Query<ReadyParams>,
) -> Response {
    let database = db.execute_unprepared("SELECT 1").await.is_ok();
    let catalog = catalog.get();
    let ready = database && !catalog.communes.is_empty();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "catalog": { "version": catalog.version, "offers": catalog.len(), "builtAt": catalog.built_at },
    });
    let mut body = body;
    if p.digest {
        let snapshot = catalog.clone();
        if let Ok(d) = tokio::task::spawn_blocking(move || snapshot.digest()).await {
            body["catalog"]["digest"] = json!(d);
        }
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
