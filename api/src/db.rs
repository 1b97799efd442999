//! Connecting to the database, migrating it and loading the territory on first start.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait};

use crate::config::Config;
use crate::error::Error;

/// Opens the configured database, creating the SQLite folder when needed.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, Error> {
    let pool = if config.database_url().starts_with("sqlite:") { 4 } else { 16 };
    connect_with(config, pool).await
}

/// Opens the configured database with a pool of at most `pool` connections.
pub async fn connect_with(config: &Config, pool: u32) -> Result<DatabaseConnection, Error> {
    let url = config.database_url();
    if url.starts_with("sqlite:") && config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::Startup(format!("cannot create {}: {e}", config.data_dir.display())))?;
    }
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).max_connections(pool);
    // A database that restarts fails requests quickly (503 UNAVAILABLE, well before the 10 s of a
    // GraphQL request) instead of holding them while the pool retries.
    options.connect_timeout(Duration::from_secs(3)).acquire_timeout(Duration::from_secs(4));
    // sqlx turns SQLite foreign keys on for every pooled connection and waits 5 s on a lock.
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers run beside the writer; the mode is kept in the file.
        db.execute_unprepared("PRAGMA journal_mode = WAL;").await?;
    }
    Ok(db)
}

/// Key of the PostgreSQL advisory lock under which the schema is migrated and an empty database
/// seeded (any fixed number: "caph" in ASCII).
const PREPARE_LOCK: i64 = 0x6361_7068;

/// Runs `work` while this process holds the lock on preparing the database, so that instances
/// starting together on one PostgreSQL migrate and seed one after the other, each finding what the
/// one before did: without it the second failed on the migrations table's key, or on the rows the
/// first was seeding. The lock is a transaction's (`pg_advisory_xact_lock`), held on one
/// connection of the pool while `work` uses the others; it ends with the transaction, and with the
/// process if it dies. SQLite serves one process: no lock.
pub async fn exclusively<T>(
    db: &DatabaseConnection,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != DbBackend::Postgres {
        return work.await;
    }
    let lock = db.begin().await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({PREPARE_LOCK})")).await?;
    let result = work.await;
    lock.commit().await?;
    result
}

/// Applies pending migrations (one instance at a time, see [`exclusively`]).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), Error> {
    exclusively(db, async { Ok(Migrator::up(db, None).await?) }).await
}

/// Rolls every migration back (one instance at a time).
pub async fn migrate_down(db: &DatabaseConnection) -> Result<(), Error> {
    exclusively(db, async { Ok(Migrator::down(db, None).await?) }).await
}

/// Loads the territory when the database holds no commune yet; returns whether it did. Instances
/// starting together on an empty database take turns (see [`exclusively`]): one seeds, the
/// others find it seeded.
pub async fn seed_if_empty(db: &DatabaseConnection) -> Result<bool, Error> {
    exclusively(db, async {
        if entities::prelude::Commune::find().count(db).await? > 0 {
            return Ok(false);
        }
        let report = seed(db).await?;
        tracing::info!(created = report.created, "loaded the territory of La Porte du Hainaut");
        Ok(true)
    })
    .await
}

/// Loads (or refreshes) the territory, then its classified accommodation from the register's
/// rows embedded in the binary.
pub async fn seed(db: &DatabaseConnection) -> Result<seed::LoadReport, Error> {
    let territory = seed::territory().map_err(|e| Error::Startup(e.to_string()))?;
    let mut report = seed::load(db, &territory).await.map_err(|e| match e {
        seed::LoadError::Db(e) => Error::Database(e),
        other => Error::Startup(other.to_string()),
    })?;
    let register = seed::atout_france::import(
        db,
        seed::atout_france::TERRITORY_ROWS.as_bytes(),
        entities::vocab::OfferStatus::Published,
    )
    .await
    .map_err(|e| Error::Startup(format!("the embedded register rows: {e}")))?;
    if !register.rejected.is_empty() {
        return Err(Error::Startup(format!("the embedded register rows: {:?}", register.rejected)));
    }
    report.created += register.created;
    report.updated += register.updated + register.declassified;
    report.unchanged += register.unchanged;
    Ok(report)
}
