//! Counting QR resolutions per code and per day, and nothing else about the visitor. With Redis
//! the counts gather in a hash that a background task flushes to the database (and once more at
//! shutdown); without it, or when Redis fails, each scan is added to the database directly.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use entities::qr_scan;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::error::Result;
use crate::shared::SharedStore;

const PENDING: &str = "porte-du-hainaut:qr-scans:pending";

/// Adds `count` scans of a code on a day to the database.
pub async fn add(db: &DatabaseConnection, code: &str, day: NaiveDate, count: i64) -> Result<()> {
    let row = qr_scan::ActiveModel { code: Set(code.to_owned()), day: Set(day), count: Set(count) };
    qr_scan::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([qr_scan::Column::Code, qr_scan::Column::Day])
                .value(
                    qr_scan::Column::Count,
                    Expr::col((qr_scan::Entity, qr_scan::Column::Count)).add(Expr::cust("excluded.count")),
                )
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Counts one scan.
pub async fn record(db: &DatabaseConnection, shared: &SharedStore, code: &str) -> Result<()> {
    let day = Utc::now().date_naive();
    if shared.hincr(PENDING, &format!("{code}|{day}"), 1).await.is_some() {
        return Ok(());
    }
    add(db, code, day, 1).await
}

/// Moves the counts gathered in Redis to the database (an atomic rename, so no scan is counted
/// twice nor lost if two instances flush at once).
pub async fn flush(db: &DatabaseConnection, shared: &SharedStore) -> Result<usize> {
    let batch = format!("{PENDING}:flush:{}", uuid::Uuid::new_v4());
    let Some(entries) = shared.take_hash(PENDING, &batch).await else { return Ok(0) };
    let mut n = 0;
    for (field, count) in &entries {
        let Some((code, day)) = field.split_once('|') else { continue };
        let Ok(day) = day.parse::<NaiveDate>() else { continue };
        add(db, code, day, *count).await?;
        n += 1;
    }
    shared.delete(&batch).await;
    Ok(n)
}

/// Flushes every few seconds.
pub fn spawn_flusher(db: DatabaseConnection, shared: SharedStore) {
    if shared.url().is_none() {
        return;
    }
    crate::tasks::supervise("qr-scan-flush", move || {
        let (db, shared) = (db.clone(), shared.clone());
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = flush(&db, &shared).await {
                    tracing::warn!(error = %e.public_message(), "QR scan flush failed; will retry");
                }
            }
        }
    });
}
