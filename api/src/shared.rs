//! The state shared between API instances through Redis (when `REDIS_URL` is set): persisted
//! queries, encoded tiles and layers, counters, version announcements. Every call has a short
//! timeout and failures degrade to "not there": a Redis that is down never fails a read.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long one Redis call may take before it counts as a miss.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// A handle to the shared store; without Redis every call is a miss.
#[derive(Clone, Default)]
pub struct SharedStore {
    connection: Arc<ArcSwapOption<ConnectionManager>>,
    url: Option<Arc<String>>,
}

impl SharedStore {
    /// A store without Redis.
    pub fn none() -> SharedStore {
        SharedStore::default()
    }

    /// Connects in the background (and keeps trying) so start-up never waits on Redis.
    pub fn connect(url: &str) -> Result<SharedStore, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let store = SharedStore { connection: Arc::default(), url: Some(Arc::new(url.to_owned())) };
        let slot = store.connection.clone();
        tokio::spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(CALL_TIMEOUT))
                .set_max_delay(Duration::from_secs(2));
            loop {
                match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                    Ok(manager) => {
                        tracing::info!("connected to Redis");
                        slot.store(Some(Arc::new(manager)));
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Redis unreachable, serving without it; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
        Ok(store)
    }

    /// The Redis URL, when configured.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().map(String::as_str)
    }

    /// Whether a connection is established.
    pub fn is_connected(&self) -> bool {
        self.connection.load().is_some()
    }

    /// Waits up to `limit` for the connection (one-shot commands that have one thing to say).
    pub async fn connected_within(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_connected() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.is_connected()
    }

    fn manager(&self) -> Option<ConnectionManager> {
        self.connection.load().as_ref().map(|m| ConnectionManager::clone(m))
    }

    /// Reads a value; `None` when absent, without Redis, or when Redis fails.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.manager()?;
        match tokio::time::timeout(CALL_TIMEOUT, conn.get::<_, Option<Vec<u8>>>(key)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "redis get failed");
                None
            }
            Err(_) => None,
        }
    }

    /// Stores a value with a lifetime; failures are logged and ignored.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let Some(mut conn) = self.manager() else { return };
        let secs = ttl.as_secs().max(1);
        match tokio::time::timeout(CALL_TIMEOUT, conn.set_ex::<_, _, ()>(key, value, secs)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "redis set failed"),
            Err(_) => tracing::debug!("redis set timed out"),
        }
    }

    /// Publishes a message on a channel; failures are logged and ignored.
    pub async fn publish(&self, channel: &str, message: &str) {
        let Some(mut conn) = self.manager() else { return };
        if let Ok(Err(e)) = tokio::time::timeout(CALL_TIMEOUT, conn.publish::<_, _, ()>(channel, message)).await {
            tracing::debug!(error = %e, "redis publish failed");
        }
    }

    /// Adds to a field of a hash; `None` when Redis is absent or fails.
    pub async fn hincr(&self, key: &str, field: &str, by: i64) -> Option<i64> {
        let mut conn = self.manager()?;
        match tokio::time::timeout(CALL_TIMEOUT, conn.hincr::<_, _, _, i64>(key, field, by)).await {
            Ok(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// Atomically renames a hash and returns its fields; `None` when there is none (or no Redis).
    pub async fn take_hash(&self, key: &str, into: &str) -> Option<Vec<(String, i64)>> {
        let mut conn = self.manager()?;
        let renamed =
            tokio::time::timeout(CALL_TIMEOUT, redis::cmd("RENAME").arg(key).arg(into).query_async::<()>(&mut conn))
                .await;
        if !matches!(renamed, Ok(Ok(()))) {
            return None;
        }
        match tokio::time::timeout(CALL_TIMEOUT, conn.hgetall::<_, Vec<(String, i64)>>(into)).await {
            Ok(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// Deletes a key; failures are ignored.
    pub async fn delete(&self, key: &str) {
        if let Some(mut conn) = self.manager() {
            let _ = tokio::time::timeout(CALL_TIMEOUT, conn.del::<_, ()>(key)).await;
        }
    }

    /// Sets a marker unless it is there (`SET NX EX`): `Some(true)` the first time within `ttl`,
    /// `Some(false)` after, `None` when Redis is absent or fails.
    pub async fn first_time(&self, key: &str, ttl: Duration) -> Option<bool> {
        let mut conn = self.manager()?;
        let set = redis::cmd("SET").arg(key).arg(1).arg("NX").arg("EX").arg(ttl.as_secs().max(1)).to_owned();
        match tokio::time::timeout(CALL_TIMEOUT, set.query_async::<Option<String>>(&mut conn)).await {
            Ok(Ok(v)) => Some(v.is_some()),
            _ => None,
        }
    }

    /// Adds to a counter with a lifetime and returns the new value; `None` when Redis fails.
    pub async fn incr(&self, key: &str, by: i64, ttl: Duration) -> Option<i64> {
        let mut conn = self.manager()?;
        let mut pipe = redis::pipe();
        pipe.atomic().incr(key, by).expire(key, ttl.as_secs().max(1) as i64).ignore();
        match tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<(i64,)>(&mut conn)).await {
            Ok(Ok((v,))) => Some(v),
            _ => None,
        }
    }
}
