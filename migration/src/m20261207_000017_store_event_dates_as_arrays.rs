//! On PostgreSQL, the occurrences of an event are stored in one row: its starts and ends as two
//! arrays, in `event_dates`.
//!
//! An event from DATAtourisme has about ninety dates, and up to several hundred. One row per
//! date cost PostgreSQL a heap tuple and a B-tree entry for each. Writing the 268,500 dates of
//! 3,000 imported objects took 650–740 ms that way, and 60–120 ms as 500 rows of arrays.
//! Nothing reads one occurrence alone: the write path replaces an event's dates as a whole, and
//! the catalog reads them by event.
//!
//! The guarantees of the rows stay, checked by the database:
//! - a plain foreign key to `offers`, one look-up per event: `ON DELETE CASCADE`, and an
//!   offer's id cannot change while it has dates (this replaces `m20261128_000014`'s triggers);
//! - `CHECK (event_dates_are_valid(starts, ends))`: as many ends as starts, none null, each end
//!   at or after its start, the starts strictly increasing (so one occurrence per start).
//!
//! `event_occurrences` becomes a view of one row per occurrence (`offer_id`, `starts_at`,
//! `ends_at`), so that the readers stay as they were. Its `INSTEAD OF` triggers apply inserts,
//! updates and deletes to the arrays: an instance of the previous build, still running during a
//! rolling upgrade, reads and writes occurrences as before. The view no longer has the `id` that
//! `m20261207_000016` kept for the build before that one.
//!
//! SQLite serves one process and keeps its rows: its table is a B-tree on the key already
//! (`WITHOUT ROWID`), and it has no arrays.

use sea_orm_migration::prelude::*;

use crate::m20261128_000014_check_occurrence_offers_per_statement as per_statement;

/// Stores each event's occurrences as arrays on PostgreSQL, behind a view of the rows.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000017_store_event_dates_as_arrays"
    }
}

/// Whether `starts` and `ends` are an event's occurrences in order: one-dimensional arrays from
/// 1, of one length, no null, each end at or after its start, starts strictly increasing. In
/// PL/pgSQL, which reads each array once (a SQL function indexing them read the whole array
/// again at each element).
const VALID: &str = "CREATE FUNCTION event_dates_are_valid(starts timestamptz[], ends timestamptz[]) \
    RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ \
    DECLARE previous timestamptz; \
    BEGIN \
      IF array_ndims(starts) IS DISTINCT FROM 1 OR array_ndims(ends) IS DISTINCT FROM 1 \
         OR array_lower(starts, 1) <> 1 OR array_lower(ends, 1) <> 1 \
         OR cardinality(starts) <> cardinality(ends) THEN \
        RETURN false; \
      END IF; \
      FOR i IN 1 .. cardinality(starts) LOOP \
        IF starts[i] IS NULL OR ends[i] IS NULL OR ends[i] < starts[i] OR starts[i] <= previous THEN \
          RETURN false; \
        END IF; \
        previous := starts[i]; \
      END LOOP; \
      RETURN true; \
    END $$";

/// Applies a write on the view to the arrays: the old row's occurrence removed (its event's row
/// deleted with its last one), the new row's added in order. The event's row is locked first,
/// so that concurrent writers of one event do not lose each other's dates.
const WRITE: &str = "CREATE FUNCTION event_occurrences_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
    DECLARE s timestamptz[]; e timestamptz[]; \
    BEGIN \
      IF TG_OP <> 'INSERT' THEN \
        PERFORM 1 FROM event_dates WHERE offer_id = OLD.offer_id FOR UPDATE; \
        SELECT array_agg(o.s ORDER BY o.s), array_agg(o.e ORDER BY o.s) INTO s, e \
          FROM event_dates d, unnest(d.starts, d.ends) AS o(s, e) \
          WHERE d.offer_id = OLD.offer_id AND o.s IS DISTINCT FROM OLD.starts_at; \
        IF s IS NULL THEN \
          DELETE FROM event_dates WHERE offer_id = OLD.offer_id; \
        ELSE \
          UPDATE event_dates SET starts = s, ends = e WHERE offer_id = OLD.offer_id; \
        END IF; \
      END IF; \
      IF TG_OP <> 'DELETE' THEN \
        PERFORM 1 FROM event_dates WHERE offer_id = NEW.offer_id FOR UPDATE; \
        IF EXISTS (SELECT 1 FROM event_dates WHERE offer_id = NEW.offer_id AND NEW.starts_at = ANY (starts)) THEN \
          RAISE EXCEPTION 'duplicate key value violates unique constraint \"event_dates_pkey\"' \
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'event_dates_pkey', TABLE = 'event_dates', \
            DETAIL = format('Key (offer_id, starts_at)=(%s, %s) already exists.', NEW.offer_id, NEW.starts_at); \
        END IF; \
        INSERT INTO event_dates AS d (offer_id, starts, ends) \
          VALUES (NEW.offer_id, ARRAY[NEW.starts_at], ARRAY[NEW.ends_at]) \
          ON CONFLICT (offer_id) DO UPDATE SET (starts, ends) = ( \
            SELECT array_agg(o.s ORDER BY o.s), array_agg(o.e ORDER BY o.s) \
            FROM unnest(d.starts || EXCLUDED.starts, d.ends || EXCLUDED.ends) AS o(s, e)); \
      END IF; \
      RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; \
    END $$";

fn up_statements() -> Vec<String> {
    let mut statements = vec![
        VALID.to_owned(),
        "CREATE TABLE event_dates ( \
           offer_id varchar(36) NOT NULL, \
           starts timestamptz[] NOT NULL, \
           ends timestamptz[] NOT NULL, \
           CONSTRAINT event_dates_pkey PRIMARY KEY (offer_id), \
           CONSTRAINT fk_event_dates_offer FOREIGN KEY (offer_id) REFERENCES offers (id) ON DELETE CASCADE, \
           CONSTRAINT event_dates_are_valid CHECK (event_dates_are_valid(starts, ends)))"
            .to_owned(),
        "INSERT INTO event_dates (offer_id, starts, ends) \
         SELECT offer_id, array_agg(starts_at ORDER BY starts_at), array_agg(ends_at ORDER BY starts_at) \
         FROM event_occurrences GROUP BY offer_id"
            .to_owned(),
    ];
    statements.extend(per_statement::drop_trigger_statements());
    statements.extend([
        "DROP TABLE event_occurrences".to_owned(),
        "CREATE VIEW event_occurrences AS \
         SELECT d.offer_id, o.starts_at, o.ends_at \
         FROM event_dates d CROSS JOIN LATERAL unnest(d.starts, d.ends) AS o(starts_at, ends_at)"
            .to_owned(),
        WRITE.to_owned(),
        "CREATE TRIGGER event_occurrences_write INSTEAD OF INSERT OR UPDATE OR DELETE ON event_occurrences \
         FOR EACH ROW EXECUTE FUNCTION event_occurrences_write()"
            .to_owned(),
    ]);
    statements
}

/// Back to `m20261207_000016`'s rows: the serial `id` kept unindexed, keyed by offer and start,
/// the offers checked by `m20261128_000014`'s triggers.
fn down_statements() -> Vec<String> {
    let mut statements = vec![
        "DROP VIEW event_occurrences".to_owned(),
        "DROP FUNCTION event_occurrences_write()".to_owned(),
        "CREATE TABLE event_occurrences ( \
           id bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL, \
           offer_id varchar(36) NOT NULL, \
           starts_at timestamptz NOT NULL, \
           ends_at timestamptz NOT NULL, \
           CONSTRAINT event_occurrences_pkey PRIMARY KEY (offer_id, starts_at), \
           CONSTRAINT fk_event_occurrences_offer FOREIGN KEY (offer_id) REFERENCES offers (id) ON DELETE CASCADE, \
           CONSTRAINT event_occurrences_check CHECK (ends_at >= starts_at))"
            .to_owned(),
        "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) \
         SELECT d.offer_id, o.starts_at, o.ends_at \
         FROM event_dates d CROSS JOIN LATERAL unnest(d.starts, d.ends) AS o(starts_at, ends_at)"
            .to_owned(),
        "DROP TABLE event_dates".to_owned(),
        "DROP FUNCTION event_dates_are_valid(timestamptz[], timestamptz[])".to_owned(),
    ];
    statements.extend(per_statement::up_statements());
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_on_postgres(manager, up_statements()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_on_postgres(manager, down_statements()).await
    }
}
