//! Feeds for partner destinations: the offer as GeoJSON, schema.org JSON-LD and iCalendar
//! (`offers`), and the change feed at `GET /feeds/changes`, the REST twin of GraphQL's `changes`.

pub mod offers;

use crate::extract::Query;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::offers::changes::{self, ChangePage};

/// Query string of `GET /feeds/changes`.
#[derive(Debug, Deserialize)]
pub struct ChangesParams {
    /// Only changes at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Resume after this cursor.
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

/// `GET /feeds/changes?since=&after=&limit=`.
pub async fn changes(
    State(db): State<sea_orm::DatabaseConnection>,
    Query(p): Query<ChangesParams>,
) -> Result<Json<ChangePage>> {
    let since = p
        .since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| Error::BadUserInput(format!("since {s:?} is not an RFC 3339 date-time")))
        })
        .transpose()?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::BadUserInput("limit must be between 1 and 1000".into()));
    }
    Ok(Json(changes::page(&db, since, p.after.as_deref(), limit).await?))
}
