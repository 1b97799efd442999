//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and the catalog is loaded.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db.execute_unprepared("SELECT 1").await.is_ok();
    let catalog = state.catalog.get();
    let ready = database && !catalog.communes.is_empty();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "catalog": { "version": catalog.version, "offers": catalog.offers.len(), "builtAt": catalog.built_at },
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
