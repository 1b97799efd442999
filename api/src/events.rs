//! Offer changes, told to subscribers and to the other instances. An instance that commits a
//! change announces the new catalog version over Redis pub/sub; every instance (itself included)
//! catches up by reading the change rows from the database, so each subscriber of each instance
//! gets every change once and in version order, whichever way the instance heard of it (its own
//! write, an announcement, or its poll when a message is lost).
//!
//! What a subscriber is told depends on who it is: anonymous and partner subscribers see public
//! offers only (a draft's publication reaches them as a creation, and nothing of a draft that
//! stays one); a provider sees its own organisation's drafts too; editors see everything.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::vocab::RevisionAction;
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::auth::{Authenticator, Caller, Role};
use crate::catalog::{AppliedChange, CatalogHandle};
use crate::shared::SharedStore;

/// Redis channel of the announcements.
pub const CHANNEL: &str = "porte-du-hainaut:catalog-versions";

/// What happened to an offer, as a subscriber sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum Action {
    /// Created (for the public: published for the first time).
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

impl From<RevisionAction> for Action {
    fn from(a: RevisionAction) -> Action {
        match a {
            RevisionAction::Create => Action::Created,
            RevisionAction::Update | RevisionAction::Seed | RevisionAction::Import => Action::Updated,
            RevisionAction::Publish => Action::Published,
            RevisionAction::Unpublish => Action::Unpublished,
            RevisionAction::Archive => Action::Archived,
            RevisionAction::Delete => Action::Deleted,
            RevisionAction::Restore => Action::Restored,
        }
    }
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

/// The change as `caller` may see it, or nothing.
pub fn visible_to(caller: &Caller, c: &AppliedChange) -> Option<OfferChange> {
    let change = |action: Action| OfferChange {
        id: c.offer_id.clone(),
        version: c.version,
        action,
        catalog_version: c.catalog_version,
        at: c.at,
    };
    let full = match caller {
        Caller::Key { role: Role::Admin | Role::Editor, .. } => true,
        Caller::Key { role: Role::Provider, owner: Some(mine), .. } => c.owner.as_deref() == Some(mine.as_str()),
        _ => false,
    };
    if full {
        return Some(change(c.action.into()));
    }
    match (c.was_public, c.is_public) {
        (false, false) => None,
        // Seen from outside, the offer appears.
        (false, true) => Some(change(Action::Created)),
        (true, true) => Some(change(Action::Updated)),
        (true, false) => Some(change(match c.action {
            RevisionAction::Delete => Action::Deleted,
            RevisionAction::Archive => Action::Archived,
            _ => Action::Unpublished,
        })),
    }
}

/// An announcement to the other instances: a committed version, or a revoked key.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Announcement {
    /// A version was committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    catalog_version: Option<i64>,
    /// The hash of a key just revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_key: Option<String>,
}

/// The announcement hub of this instance.
#[derive(Clone)]
pub struct Events {
    shared: SharedStore,
}

impl Events {
    /// A hub that speaks through the shared store.
    pub fn new(shared: SharedStore) -> Events {
        Events { shared }
    }

    /// Tells the other instances a version was committed.
    pub async fn announce(&self, catalog_version: i64) {
        self.send(Announcement { catalog_version: Some(catalog_version), ..Default::default() }).await;
    }

    /// Tells the other instances a key was revoked, so that none vouches for it from memory.
    pub async fn announce_revocation(&self, token_hash: &str) {
        self.send(Announcement { revoked_key: Some(token_hash.to_owned()), ..Default::default() }).await;
    }

    async fn send(&self, a: Announcement) {
        if let Ok(text) = serde_json::to_string(&a) {
            self.shared.publish(CHANNEL, &text).await;
        }
    }

    /// Listens to the other instances' announcements (reconnecting as needed): catches up with
    /// their versions and forgets the keys they revoked.
    pub fn spawn_listener(&self, db: DatabaseConnection, catalog: Arc<CatalogHandle>, auth: Arc<Authenticator>) {
        let Some(url) = self.shared.url().map(str::to_owned) else { return };
        crate::tasks::supervise("announcement-listener", move || {
            let (url, db, catalog, auth) = (url.clone(), db.clone(), catalog.clone(), auth.clone());
            async move {
                loop {
                    let listen = async {
                        let client = redis::Client::open(url.as_str())?;
                        let mut pubsub = client.get_async_pubsub().await?;
                        pubsub.subscribe(CHANNEL).await?;
                        tracing::info!("listening to catalog versions on Redis");
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(text) = msg.get_payload::<String>() else { continue };
                            let Ok(a) = serde_json::from_str::<Announcement>(&text) else { continue };
                            if let Some(hash) = &a.revoked_key {
                                auth.revoked_hash(hash);
                            }
                            if let Some(v) = a.catalog_version
                                && let Err(e) = catalog.catch_up_to(&db, v).await
                            {
                                tracing::warn!(error = %e.public_message(), "catching up failed; the poll will");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(action: RevisionAction, was_public: bool, is_public: bool) -> AppliedChange {
        AppliedChange {
            offer_id: "x".into(),
            version: 2,
            action,
            catalog_version: 9,
            at: Utc::now(),
            was_public,
            is_public,
            owner: Some("org-a".into()),
        }
    }

    #[test]
    fn outsiders_see_public_changes_only() {
        let anonymous = Caller::Anonymous;
        assert!(visible_to(&anonymous, &applied(RevisionAction::Create, false, false)).is_none());
        assert!(visible_to(&anonymous, &applied(RevisionAction::Update, false, false)).is_none());
        let published = visible_to(&anonymous, &applied(RevisionAction::Publish, false, true)).map(|c| c.action);
        assert_eq!(published, Some(Action::Created), "a draft's publication reaches them as a creation");
        let gone = visible_to(&anonymous, &applied(RevisionAction::Unpublish, true, false)).map(|c| c.action);
        assert_eq!(gone, Some(Action::Unpublished));
        let key = |role, owner: &str| Caller::Key {
            id: "k".into(),
            name: "k".into(),
            role,
            owner: Some(owner.into()),
            quota: None,
            from_memory: false,
        };
        assert!(visible_to(&key(Role::Provider, "org-a"), &applied(RevisionAction::Create, false, false)).is_some());
        assert!(visible_to(&key(Role::Provider, "org-b"), &applied(RevisionAction::Create, false, false)).is_none());
        assert!(visible_to(&key(Role::Partner, "org-a"), &applied(RevisionAction::Create, false, false)).is_none());
        assert!(visible_to(&key(Role::Editor, "x"), &applied(RevisionAction::Create, false, false)).is_some());
    }
}
