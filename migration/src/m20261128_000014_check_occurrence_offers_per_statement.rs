//! On PostgreSQL, the offers of event occurrences are checked once per statement and per offer
//! instead of once per row.
//!
//! A foreign key checks each inserted row on its own: one locking look-up of the offer per
//! occurrence, about half of what an occurrence row costs to write (an event has about ninety in
//! DATAtourisme's exports). These triggers keep the key's guarantees with one look-up per offer:
//! - a statement that inserts or updates occurrences locks their offers `FOR KEY SHARE`, as the
//!   key did, and fails with the key's SQLSTATE (23503) and name if one is missing;
//! - deleting or truncating offers deletes their occurrences (the key's `ON DELETE CASCADE`);
//! - an offer's id cannot change while occurrences name it (the key's `ON UPDATE NO ACTION`).
//!
//! SQLite keeps the foreign key: its checks are cheap, and it has no statement triggers.

use sea_orm_migration::prelude::*;

/// Replaces `fk_event_occurrences_offer` with statement triggers on PostgreSQL.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000014_check_occurrence_offers_per_statement"
    }
}

/// The name the foreign key had, kept in the errors the triggers raise.
const KEY: &str = "fk_event_occurrences_offer";

/// The statements that replace the key, in order.
pub(crate) fn up_statements() -> Vec<String> {
    vec![
        format!("ALTER TABLE event_occurrences DROP CONSTRAINT {KEY}"),
        format!(
            "CREATE FUNCTION event_occurrences_check_offers() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE missing text; \
             BEGIN \
               WITH ids AS (SELECT DISTINCT offer_id FROM new_rows), \
                    locked AS (SELECT id FROM offers WHERE id IN (SELECT offer_id FROM ids) FOR KEY SHARE) \
               SELECT i.offer_id INTO missing FROM ids i \
                 WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.id = i.offer_id) LIMIT 1; \
               IF FOUND THEN \
                 RAISE EXCEPTION 'insert or update on table \"event_occurrences\" violates foreign key constraint \"{KEY}\"' \
                   USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{KEY}', TABLE = 'event_occurrences', \
                   DETAIL = format('Key (offer_id)=(%s) is not present in table \"offers\".', missing); \
               END IF; \
               RETURN NULL; \
             END $$"
        ),
        "CREATE TRIGGER event_occurrences_offers_on_insert AFTER INSERT ON event_occurrences \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION event_occurrences_check_offers()"
            .into(),
        "CREATE TRIGGER event_occurrences_offers_on_update AFTER UPDATE ON event_occurrences \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION event_occurrences_check_offers()"
            .into(),
        "CREATE FUNCTION offers_delete_occurrences() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF TG_OP = 'TRUNCATE' THEN \
             TRUNCATE event_occurrences; \
           ELSE \
             DELETE FROM event_occurrences WHERE offer_id IN (SELECT id FROM old_rows); \
           END IF; \
           RETURN NULL; \
         END $$"
            .into(),
        "CREATE TRIGGER offers_delete_occurrences AFTER DELETE ON offers \
         REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION offers_delete_occurrences()"
            .into(),
        "CREATE TRIGGER offers_truncate_occurrences AFTER TRUNCATE ON offers \
         FOR EACH STATEMENT EXECUTE FUNCTION offers_delete_occurrences()"
            .into(),
        format!(
            "CREATE FUNCTION offers_keep_occurrence_ids() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF EXISTS (SELECT 1 FROM event_occurrences WHERE offer_id = OLD.id) THEN \
                 RAISE EXCEPTION 'update or delete on table \"offers\" violates foreign key constraint \"{KEY}\" on table \"event_occurrences\"' \
                   USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{KEY}', TABLE = 'offers', \
                   DETAIL = format('Key (id)=(%s) is still referenced from table \"event_occurrences\".', OLD.id); \
               END IF; \
               RETURN NEW; \
             END $$"
        ),
        "CREATE TRIGGER offers_keep_occurrence_ids BEFORE UPDATE OF id ON offers FOR EACH ROW \
         WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION offers_keep_occurrence_ids()"
            .into(),
    ]
}

/// The statements that put the key back, in order.
/// The statements that drop the triggers and their functions, in order.
pub(crate) fn drop_trigger_statements() -> Vec<String> {
    vec![
        "DROP TRIGGER offers_keep_occurrence_ids ON offers".into(),
        "DROP FUNCTION offers_keep_occurrence_ids()".into(),
        "DROP TRIGGER offers_truncate_occurrences ON offers".into(),
        "DROP TRIGGER offers_delete_occurrences ON offers".into(),
        "DROP FUNCTION offers_delete_occurrences()".into(),
        "DROP TRIGGER event_occurrences_offers_on_update ON event_occurrences".into(),
        "DROP TRIGGER event_occurrences_offers_on_insert ON event_occurrences".into(),
        "DROP FUNCTION event_occurrences_check_offers()".into(),
    ]
}

fn down_statements() -> Vec<String> {
    let mut statements = drop_trigger_statements();
    statements.push(format!(
        "ALTER TABLE event_occurrences ADD CONSTRAINT {KEY} FOREIGN KEY (offer_id) \
         REFERENCES offers (id) ON DELETE CASCADE"
    ));
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_on_postgres(manager, up_statements()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_on_postgres(manager, down_statements()).await
    }
}
