//! Counting QR resolutions per code and per day, and nothing else about the visitor. A scan
//! counts once per client network and code in half an hour (reloading a page or a script looping
//! on a code adds nothing), so that the counts mean people in front of a sign.
//!
//! With Redis the "seen" markers and the counts are shared by every instance: the counts gather
//! in a hash that a background task flushes to the database (and once more at shutdown). Without
//! it, or when Redis fails, each instance keeps its markers and counts in memory and flushes them
//! the same way: a scan is never a database write of its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use entities::qr_scan;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::error::Result;
use crate::shared::SharedStore;

const PENDING: &str = "porte-du-hainaut:qr-scans:pending";
const SEEN: &str = "porte-du-hainaut:qr-scans:seen";
/// A client network counts once per code in this window.
pub const WINDOW: Duration = Duration::from_secs(30 * 60);
/// How often the counts go to the database.
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Markers kept in memory when Redis is absent (the oldest go first).
const LOCAL_MARKERS: u64 = 1_000_000;

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

/// The scan counter of an instance.
pub struct Scans {
    shared: SharedStore,
    seen: moka::sync::Cache<String, ()>,
    pending: Mutex<HashMap<(String, NaiveDate), i64>>,
}

impl Scans {
    /// A counter that shares through `shared` when it can.
    pub fn new(shared: SharedStore) -> Scans {
        Scans {
            shared,
            seen: moka::sync::Cache::builder().max_capacity(LOCAL_MARKERS).time_to_live(WINDOW).build(),
            pending: Mutex::default(),
        }
    }

    /// Counts a resolution of `code` by a client (its network: an IPv6 /64 is one client);
    /// whether it counted.
    pub async fn record(&self, code: &str, client: Option<IpAddr>) -> bool {
        let who = client.map_or_else(|| "unknown".to_owned(), |ip| crate::auth::network_of(ip).to_string());
        let marker = format!("{code}|{who}");
        // A marker this instance set itself lives here as long as in Redis: no need to ask.
        if self.seen.contains_key(&marker) {
            return false;
        }
        let day = Utc::now().date_naive();
        match self.shared.first_time(&format!("{SEEN}:{marker}"), WINDOW).await {
            // Set by another instance: not kept here, where it would outlive Redis's.
            Some(false) => return false,
            Some(true) => {
                self.seen.insert(marker, ());
                if self.shared.hincr(PENDING, &format!("{code}|{day}"), 1).await.is_some() {
                    return true;
                }
            }
            None => {
                self.seen.insert(marker, ());
            }
        }
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((code.to_owned(), day)).or_default() += 1;
        }
        true
    }

    /// Moves the counts gathered here and in Redis to the database; how many (code, day) rows
    /// were written. Redis's hash is renamed atomically first, so no scan is counted twice nor
    /// lost if two instances flush at once; counts that fail to be written stay for next time.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<usize> {
        let local: Vec<((String, NaiveDate), i64)> =
            self.pending.lock().map(|mut p| p.drain().collect()).unwrap_or_default();
        let mut n = 0;
        let mut failed = None;
        for ((code, day), count) in local {
            match add(db, &code, day, count).await {
                Ok(()) => n += 1,
                Err(e) => {
                    if let Ok(mut pending) = self.pending.lock() {
                        *pending.entry((code, day)).or_default() += count;
                    }
                    failed = Some(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let batch = format!("{PENDING}:flush:{}", uuid::Uuid::new_v4());
        let Some(entries) = self.shared.take_hash(PENDING, &batch).await else { return Ok(n) };
        for (field, count) in &entries {
            let Some((code, day)) = field.split_once('|') else { continue };
            let Ok(day) = day.parse::<NaiveDate>() else { continue };
            add(db, code, day, *count).await?;
            n += 1;
        }
        self.shared.delete(&batch).await;
        Ok(n)
    }

    /// Flushes every few seconds.
    pub fn spawn_flusher(self: &Arc<Self>, db: DatabaseConnection) {
        let scans = self.clone();
        crate::tasks::supervise("qr-scan-flush", move || {
            let (db, scans) = (db.clone(), scans.clone());
            async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    if let Err(e) = scans.flush(&db).await {
                        tracing::warn!(error = %e.public_message(), "QR scan flush failed; will retry");
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_counts_once_per_code_in_the_window() {
        let scans = Scans::new(SharedStore::none());
        let a: IpAddr = "2001:db8:1:2::10".parse().expect("ip");
        let same_network: IpAddr = "2001:db8:1:2::99".parse().expect("ip");
        let b: IpAddr = "192.0.2.7".parse().expect("ip");
        assert!(scans.record("ABCDEFG", Some(a)).await);
        assert!(!scans.record("ABCDEFG", Some(a)).await, "a reload");
        assert!(!scans.record("ABCDEFG", Some(same_network)).await, "the same /64");
        assert!(scans.record("HJKMNPQ", Some(a)).await, "another code");
        assert!(scans.record("ABCDEFG", Some(b)).await, "another client");
        let pending = scans.pending.lock().expect("lock").clone();
        let day = Utc::now().date_naive();
        assert_eq!(pending.get(&("ABCDEFG".to_owned(), day)), Some(&2));
        assert_eq!(pending.get(&("HJKMNPQ".to_owned(), day)), Some(&1));
    }
}
