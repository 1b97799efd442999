//! Announcing offer changes: to the subscriptions of this instance (a broadcast channel) and to
//! the other instances through Redis pub/sub, which reload their catalog when they hear of a
//! newer version (they also poll the version in the database, in case a message is lost).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::catalog::CatalogHandle;
use crate::shared::SharedStore;

/// Redis channel of the announcements.
pub const CHANNEL: &str = "porte-du-hainaut:offer-changes";

/// What happened to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum Action {
    /// Created (as a draft).
    Created,
    /// Fields, occurrences, media, stages or links changed.
    Updated,
    /// Made public.
    Published,
    /// Back to draft.
    Unpublished,
    /// Archived.
    Archived,
    /// Soft-deleted.
    Deleted,
    /// Restored after a deletion.
    Restored,
}

/// One change of an offer.
#[derive(Debug, Clone, Serialize, Deserialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "OfferChange")]
pub struct OfferChange {
    /// The offer.
    pub id: String,
    /// Its version after the change.
    pub version: i32,
    /// What happened.
    pub action: Action,
    /// The catalog version that includes it.
    pub catalog_version: i64,
    /// When.
    pub at: DateTime<Utc>,
}

/// The announcement hub of this instance.
#[derive(Clone)]
pub struct Events {
    local: broadcast::Sender<OfferChange>,
    shared: SharedStore,
}

impl Events {
    /// A hub that also speaks through the shared store.
    pub fn new(shared: SharedStore) -> Events {
        let (local, _) = broadcast::channel(1024);
        Events { local, shared }
    }

    /// Tells this instance's subscribers and the other instances.
    pub async fn announce(&self, change: OfferChange) {
        let _ = self.local.send(change.clone());
        if let Ok(text) = serde_json::to_string(&change) {
            self.shared.publish(CHANNEL, &text).await;
        }
    }

    /// Receives the changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<OfferChange> {
        self.local.subscribe()
    }

    /// Listens to the other instances' announcements (reconnecting as needed): reloads the
    /// catalog, then passes the change on to this instance's subscribers.
    pub fn spawn_listener(&self, db: DatabaseConnection, catalog: Arc<CatalogHandle>) {
        let Some(url) = self.shared.url().map(str::to_owned) else { return };
        let local = self.local.clone();
        crate::tasks::supervise("announcement-listener", move || {
            let (url, local, db, catalog) = (url.clone(), local.clone(), db.clone(), catalog.clone());
            async move {
                loop {
                    let listen = async {
                        let client = redis::Client::open(url.as_str())?;
                        let mut pubsub = client.get_async_pubsub().await?;
                        pubsub.subscribe(CHANNEL).await?;
                        tracing::info!("listening to offer changes on Redis");
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(text) = msg.get_payload::<String>() else { continue };
                            let Ok(change) = serde_json::from_str::<OfferChange>(&text) else { continue };
                            if change.catalog_version > catalog.get().version {
                                if let Err(e) = catalog.reload(&db).await {
                                    tracing::warn!(error = %e.public_message(), "catalog reload failed");
                                    continue;
                                }
                                let _ = local.send(change);
                            }
                        }
                        Ok::<_, redis::RedisError>(())
                    };
                    if let Err(e) = listen.await {
                        tracing::warn!(error = %e, "Redis announcements interrupted; retrying");
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        });
    }
}
