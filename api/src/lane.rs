//! The write lane: the mutations of the offer run on a runtime of their own (one thread) with a
//! database pool of their own, so a write's dozen round trips to the database are not each queued
//! behind the read requests that keep the main runtime busy.
//!
//! Measured with `bench/mixed.sh` (see BENCHMARKS.md): under 64 connections on 2 cores, every
//! await of a task of the main runtime waits for the I/O driver's next turn and then for the
//! tasks queued before it, about 10 ms each, so a `createOffer` of some twenty awaits took half a
//! second where it takes 5 ms alone. On the lane the thread sleeps until its own sockets are
//! ready, and the operating system wakes it at once.
//!
//! A write that starts on the lane also finishes there, whatever happens to the request that
//! asked for it (a client that goes away, a timeout): a commit is never cut in two.

use std::future::Future;

use sea_orm::DatabaseConnection;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::error::{Error, Result};

/// Connections of the lane's own pool (writes queue on the catalog version anyway).
const LANE_CONNECTIONS: u32 = 4;

/// A runtime on its own thread, with its own database pool.
pub struct WriteLane {
    handle: Handle,
    db: DatabaseConnection,
    /// Dropped with the lane: its thread then returns and drops its runtime there.
    _stop: oneshot::Sender<()>,
}

impl WriteLane {
    /// Starts the lane's thread and opens its pool. An in-memory SQLite database is private to
    /// its connection: the lane then shares `db` (there is no second pool to open onto it).
    pub async fn start(config: &Config, db: &DatabaseConnection) -> Result<WriteLane> {
        let (ready, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("writes".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                };
                let (stop, stopped) = oneshot::channel::<()>();
                if ready.send(Ok((runtime.handle().clone(), stop))).is_ok() {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                }
            })
            .map_err(|e| Error::Startup(format!("cannot start the write lane: {e}")))?;
        let (handle, stop) = started
            .await
            .map_err(|_| Error::Startup("the write lane did not start".into()))?
            .map_err(|e| Error::Startup(format!("cannot start the write lane: {e}")))?;
        let url = config.database_url();
        let db = if url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory")) {
            db.clone()
        } else {
            let config = config.clone();
            handle
                .spawn(async move { crate::db::connect_with(&config, LANE_CONNECTIONS).await })
                .await
                .map_err(|e| Error::Startup(format!("the write lane's pool: {e}")))??
        };
        Ok(WriteLane { handle, db, _stop: stop })
    }

    /// The lane's pool: for the work that runs on the lane.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Runs a write on the lane and waits for its outcome. The write goes on to its end even if
    /// the caller stops waiting.
    pub async fn run<F, T>(&self, work: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(work).await.map_err(|e| Error::Internal(format!("write task: {e}")))?
    }
}
