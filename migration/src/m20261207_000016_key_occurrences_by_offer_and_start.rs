//! Event occurrences keyed by their offer and start instead of a serial id.
//!
//! An occurrence was already unique by offer and start (`ux_event_occurrences_offer_start`), and
//! nothing names an occurrence by its serial `id`: the write path replaces an event's occurrences
//! as a whole, the catalog reads them by offer, and iCalendar's UID is the offer and the start.
//! The serial key cost every inserted row a second B-tree entry, a quarter of what PostgreSQL
//! spent per occurrence row (an event from DATAtourisme has about ninety):
//! - on PostgreSQL the unique index becomes the primary key as it stands (nothing rebuilt). The
//!   `id` column stays, filled by its identity default but no longer indexed, so that instances of
//!   an earlier build, which still read it, go on working during a rolling upgrade; a later
//!   migration may drop it once no such instance runs;
//! - SQLite serves one process and cannot drop a key column: the table is rebuilt without `id`,
//!   `WITHOUT ROWID` (its rows then live in the key's B-tree, the only index the table needs).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Makes `(offer_id, starts_at)` the key of `event_occurrences` (SQLite drops `id`).
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000016_key_occurrences_by_offer_and_start"
    }
}

/// The table as SQLite keeps it after the change, under `name`.
fn sqlite_keyed_table(name: &str) -> String {
    format!(
        "CREATE TABLE \"{name}\" ( \"offer_id\" varchar(36) NOT NULL, \
         \"starts_at\" timestamp_with_timezone_text NOT NULL, \"ends_at\" timestamp_with_timezone_text NOT NULL, \
         PRIMARY KEY (\"offer_id\", \"starts_at\"), \
         FOREIGN KEY (\"offer_id\") REFERENCES \"offers\" (\"id\") ON DELETE CASCADE, \
         CHECK (\"ends_at\" >= \"starts_at\") ) WITHOUT ROWID"
    )
}

/// The table as SQLite kept it before, under `name`.
fn sqlite_serial_table(name: &str) -> String {
    format!(
        "CREATE TABLE \"{name}\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         \"offer_id\" varchar(36) NOT NULL, \"starts_at\" timestamp_with_timezone_text NOT NULL, \
         \"ends_at\" timestamp_with_timezone_text NOT NULL, \
         FOREIGN KEY (\"offer_id\") REFERENCES \"offers\" (\"id\") ON DELETE CASCADE, \
         CHECK (\"ends_at\" >= \"starts_at\") )"
    )
}

/// Rebuilds SQLite's table from `create` (which makes `event_occurrences_rebuilt`), copying the
/// rows, then `after` (indexes).
fn sqlite_rebuild(create: String, after: &[&str]) -> Vec<String> {
    let mut statements = vec![
        create,
        "INSERT INTO \"event_occurrences_rebuilt\" (\"offer_id\", \"starts_at\", \"ends_at\") \
         SELECT \"offer_id\", \"starts_at\", \"ends_at\" FROM \"event_occurrences\""
            .to_owned(),
        "DROP TABLE \"event_occurrences\"".to_owned(),
        "ALTER TABLE \"event_occurrences_rebuilt\" RENAME TO \"event_occurrences\"".to_owned(),
    ];
    statements.extend(after.iter().map(|s| (*s).to_owned()));
    statements
}

fn up_statements(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            "ALTER TABLE event_occurrences DROP CONSTRAINT event_occurrences_pkey".into(),
            "ALTER TABLE event_occurrences ADD CONSTRAINT event_occurrences_pkey \
             PRIMARY KEY USING INDEX ux_event_occurrences_offer_start"
                .into(),
        ],
        _ => sqlite_rebuild(sqlite_keyed_table("event_occurrences_rebuilt"), &[]),
    }
}

fn down_statements(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            "ALTER TABLE event_occurrences DROP CONSTRAINT event_occurrences_pkey".into(),
            "ALTER TABLE event_occurrences ADD CONSTRAINT event_occurrences_pkey PRIMARY KEY (id)".into(),
            "CREATE UNIQUE INDEX ux_event_occurrences_offer_start ON event_occurrences (offer_id, starts_at)".into(),
        ],
        _ => sqlite_rebuild(
            sqlite_serial_table("event_occurrences_rebuilt"),
            &[
                "CREATE UNIQUE INDEX \"ux_event_occurrences_offer_start\" ON \"event_occurrences\" (\"offer_id\", \"starts_at\")",
            ],
        ),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too: its statements then run on one connection (over a pool,
    /// the rename could otherwise run where the drop is not yet seen), and a rebuild that fails
    /// leaves the table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, up_statements(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, down_statements(manager.get_database_backend())).await
    }
}
