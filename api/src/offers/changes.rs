//! The change feed: upserts and tombstones in commit order with a resumable cursor, so a partner
//! can mirror the published offer exactly (`changes` in GraphQL, `GET /feeds/changes`).

use async_graphql::{Enum, ID, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use entities::offer;
use entities::prelude::Offer;
use entities::vocab::OfferStatus;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use crate::error::{Error, Result};

/// What a change means for a mirror.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// The offer is public: insert or replace it.
    Upsert,
    /// The offer is no longer public: remove it.
    Tombstone,
}

/// One entry of the feed.
#[derive(SimpleObject, Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The offer.
    pub id: ID,
    /// Upsert or tombstone.
    pub kind: ChangeKind,
    /// For a tombstone: deleted, archived or unpublished.
    pub reason: Option<String>,
    /// Version of the offer.
    pub version: i32,
    /// When it changed.
    pub at: DateTime<Utc>,
    /// Opaque cursor of this entry.
    pub cursor: String,
}

/// A page of the feed.
#[derive(SimpleObject, Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    /// Changes in commit order.
    pub nodes: Vec<Change>,
    /// Pass it as `after` to read on (also when the page is empty, to poll later).
    pub end_cursor: Option<String>,
    /// More changes are waiting.
    pub has_next_page: bool,
}

fn encode(version: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{version}:{id}"))
}

fn decode(cursor: &str) -> Result<(i64, String)> {
    let bad = || Error::BadUserInput("after: not a change cursor of this API".into());
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (v, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((v.parse().map_err(|_| bad())?, id.to_owned()))
}

/// Reads a page of changes since an instant and/or after a cursor.
pub async fn page(
    db: &DatabaseConnection,
    since: Option<DateTime<Utc>>,
    after: Option<&str>,
    first: u64,
) -> Result<ChangePage> {
    // Only offers that were public at some point: a mirror has nothing to learn about the rest,
    // and a cursor then never names an offer the reader could not have read.
    let mut q = Offer::find().filter(offer::Column::PublishedOnce.eq(true));
    if let Some(since) = since {
        q = q.filter(offer::Column::UpdatedAt.gte(since));
    }
    if let Some(cursor) = after {
        let (v, id) = decode(cursor)?;
        q = q.filter(
            Condition::any()
                .add(offer::Column::CatalogVersion.gt(v))
                .add(Condition::all().add(offer::Column::CatalogVersion.eq(v)).add(offer::Column::Id.gt(id))),
        );
    }
    let mut rows: Vec<FeedRow> = q
        .select_only()
        .columns([
            offer::Column::Id,
            offer::Column::CatalogVersion,
            offer::Column::Status,
            offer::Column::DeletedAt,
            offer::Column::Version,
            offer::Column::UpdatedAt,
        ])
        .order_by_asc(offer::Column::CatalogVersion)
        .order_by_asc(offer::Column::Id)
        .limit(first + 1)
        .into_model()
        .all(db)
        .await?;
    let has_next_page = rows.len() as u64 > first;
    rows.truncate(first as usize);
    let nodes: Vec<Change> = rows
        .iter()
        .map(|o| {
            let reason = o.hidden_because();
            Change {
                cursor: encode(o.catalog_version, &o.id),
                id: ID(o.id.clone()),
                kind: if reason.is_some() { ChangeKind::Tombstone } else { ChangeKind::Upsert },
                reason: reason.map(str::to_owned),
                version: o.version,
                at: o.updated_at,
            }
        })
        .collect();
    let end_cursor = nodes.last().map(|c| c.cursor.clone()).or_else(|| after.map(str::to_owned));
    Ok(ChangePage { nodes, end_cursor, has_next_page })
}

/// The columns of an offer the feed reads.
#[derive(Debug, FromQueryResult)]
struct FeedRow {
    id: String,
    catalog_version: i64,
    status: OfferStatus,
    deleted_at: Option<DateTime<Utc>>,
    version: i32,
    updated_at: DateTime<Utc>,
}

impl FeedRow {
    /// Why the offer is not public, if it is not.
    fn hidden_because(&self) -> Option<&'static str> {
        if self.deleted_at.is_some() {
            Some("deleted")
        } else if self.status == OfferStatus::Archived {
            Some("archived")
        } else if self.status != OfferStatus::Published {
            Some("unpublished")
        } else {
            None
        }
    }
}
