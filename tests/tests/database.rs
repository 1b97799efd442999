//! The schema and the territory on both databases: migrations up, down and up again; the
//! seed loads everything, twice without a change; every point lies inside its commune.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use entities::prelude::*;
use entities::{offer, offer_correlate};
use geo::{Contains, Point};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use tests::{PgDatabase, SqliteDatabase};

async fn table_count(db: &DatabaseConnection) -> usize {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'seaql_migrations'"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().len()
}

async fn migrations_go_up_down_and_up(db: DatabaseConnection) {
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 16);
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 0);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 16);
}

#[tokio::test]
async fn migrations_up_down_up_on_sqlite() {
    let db = SqliteDatabase::create();
    migrations_go_up_down_and_up(db.connect_pooled().await).await;
}

#[tokio::test]
async fn migrations_up_down_up_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    migrations_go_up_down_and_up(db.clone()).await;
    db.close().await.unwrap();
}

async fn seed_loads_the_territory_once(db: DatabaseConnection) {
    Migrator::up(&db, None).await.unwrap();
    let territory = seed::territory().unwrap();
    let first = seed::load(&db, &territory).await.unwrap();
    assert!(first.created > 0);

    assert_eq!(Commune::find().count(&db).await.unwrap(), 47);
    assert_eq!(Theme::find().count(&db).await.unwrap(), 5);
    assert_eq!(Offer::find().filter(offer::Column::IsTotem.eq(true)).count(&db).await.unwrap(), 5);
    let poi: serde_json::Value = serde_json::from_str(include_str!("../../seed/data/caph-poi-seed.geojson")).unwrap();
    for f in poi["features"].as_array().unwrap() {
        let id = f["properties"]["id"].as_str().unwrap();
        let row = Offer::find()
            .filter(offer::Column::Source.eq("caph-poi-seed"))
            .filter(offer::Column::SourceId.eq(id))
            .one(&db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} is not loaded"));
        assert_eq!(row.status, entities::vocab::OfferStatus::Published);
        assert_eq!(row.name.fr.as_deref(), f["properties"]["name"].as_str());
        assert!(!row.source_licence.is_empty());
    }
    assert!(Route::find().count(&db).await.unwrap() >= 3);
    assert!(
        OfferCorrelate::find().filter(offer_correlate::Column::TotemId.is_not_null()).count(&db).await.unwrap() > 50
    );

    // Seeding again changes nothing: no row, no version, no revision.
    let version = entities::write::catalog_version(&db).await.unwrap();
    let revisions = Revision::find().count(&db).await.unwrap();
    let second = seed::load(&db, &territory).await.unwrap();
    assert!(!second.changed(), "{second:?}");
    assert_eq!(entities::write::catalog_version(&db).await.unwrap(), version);
    assert_eq!(Revision::find().count(&db).await.unwrap(), revisions);
    assert!(Offer::find().all(&db).await.unwrap().iter().all(|o| o.version == 1));

    // Every offer's point lies inside its commune's polygon.
    let polygons: HashMap<String, geo::Geometry<f64>> = Commune::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.insee, entities::domain::geometry::parse(&serde_json::from_str(&c.geometry).unwrap()).unwrap()))
        .collect();
    for o in Offer::find().all(&db).await.unwrap() {
        let insee = o.commune_insee.clone().unwrap();
        assert!(
            polygons[&insee].contains(&Point::new(o.lon, o.lat)),
            "{} ({}, {}) is outside {insee}",
            o.slug,
            o.lon,
            o.lat
        );
    }
}

#[tokio::test]
async fn seed_on_sqlite() {
    let db = SqliteDatabase::create();
    seed_loads_the_territory_once(db.connect().await).await;
}

#[tokio::test]
async fn seed_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    seed_loads_the_territory_once(db.clone()).await;
    db.close().await.unwrap();
}

#[tokio::test]
async fn constraints_refuse_bad_rows() {
    let db = SqliteDatabase::create();
    let db = db.connect().await;
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    // An unknown kind, a duplicate slug, a dangling commune: each refused by the schema itself.
    let one = Offer::find().one(&db).await.unwrap().unwrap();
    for (column, value) in [("kind", "'castle'"), ("status", "'lost'"), ("commune_insee", "'00000'")] {
        let sql = format!("UPDATE offers SET {column} = {value} WHERE id = '{}'", one.id);
        assert!(db.execute_unprepared(&sql).await.is_err(), "{column} = {value} was accepted");
    }
    let other = Offer::find().filter(offer::Column::Id.ne(one.id.clone())).one(&db).await.unwrap().unwrap();
    let sql = format!("UPDATE offers SET slug = '{}' WHERE id = '{}'", one.slug, other.id);
    assert!(db.execute_unprepared(&sql).await.is_err(), "a duplicate slug was accepted");
}

/// The occurrence rows naming `offer`.
async fn occurrences_of(db: &DatabaseConnection, offer: &str) -> usize {
    let sql = format!("SELECT offer_id FROM event_occurrences WHERE offer_id = '{offer}'");
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().len()
}

/// Offers that no route passes through, so that they can be deleted outright, by id.
async fn deletable_offers(db: &DatabaseConnection) -> Vec<String> {
    let sql = "SELECT id FROM offers WHERE id NOT IN (SELECT offer_id FROM route_stages) ORDER BY id";
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "id").unwrap()).collect()
}

/// An occurrence names an offer that exists, whatever writes it: a foreign key on the rows of
/// SQLite and on the event rows of PostgreSQL (`event_dates`, written here through the view of
/// occurrences, `m20261207_000017`), with the same guarantees.
async fn occurrences_keep_their_offer(db: DatabaseConnection) {
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let ids = deletable_offers(&db).await;
    let (doomed, kept) = (&ids[0], &ids[1]);
    let insert = |offer: &str, day: u32| {
        format!(
            "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) VALUES \
             ('{offer}', '2031-05-{day:02} 10:00:00+00', '2031-05-{day:02} 12:00:00+00')"
        )
    };
    let before = (occurrences_of(&db, doomed).await, occurrences_of(&db, kept).await);
    for day in 1..=3 {
        db.execute_unprepared(&insert(doomed, day)).await.unwrap();
        db.execute_unprepared(&insert(kept, day)).await.unwrap();
    }
    assert_eq!(occurrences_of(&db, doomed).await, before.0 + 3);
    // An offer that does not exist, alone or among ones that do.
    let missing = db.execute_unprepared(&insert("no-such-offer", 1)).await.unwrap_err().to_string();
    assert!(missing.contains("FOREIGN KEY") || missing.contains("fk_event_dates_offer"), "{missing}");
    let mixed = format!(
        "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) VALUES \
         ('{kept}', '2031-06-01 10:00:00+00', '2031-06-01 12:00:00+00'), \
         ('no-such-offer', '2031-06-01 10:00:00+00', '2031-06-01 12:00:00+00')"
    );
    assert!(db.execute_unprepared(&mixed).await.is_err(), "an occurrence of no offer was written");
    assert_eq!(occurrences_of(&db, kept).await, before.1 + 3, "the refused statement wrote nothing");
    let moved = format!("UPDATE event_occurrences SET offer_id = 'no-such-offer' WHERE offer_id = '{kept}'");
    assert!(db.execute_unprepared(&moved).await.is_err(), "an occurrence was moved to no offer");
    // An offer named by occurrences keeps its id; deleting it deletes them, and only them.
    let renamed = format!("UPDATE offers SET id = 'renamed' WHERE id = '{doomed}'");
    assert!(db.execute_unprepared(&renamed).await.is_err(), "an offer's id changed under its occurrences");
    db.execute_unprepared(&format!("DELETE FROM offers WHERE id = '{doomed}'")).await.unwrap();
    assert_eq!(occurrences_of(&db, doomed).await, 0);
    assert_eq!(occurrences_of(&db, kept).await, before.1 + 3);
}

#[tokio::test]
async fn occurrences_keep_their_offer_on_sqlite() {
    let db = SqliteDatabase::create();
    occurrences_keep_their_offer(db.connect().await).await;
}

#[tokio::test]
async fn occurrences_keep_their_offer_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    occurrences_keep_their_offer(db.clone()).await;
    // While a transaction writes occurrences of an offer, the offer cannot be deleted under them:
    // the key locks it, and the delete waits (here: gives up after 200 ms).
    let offer = deletable_offers(&db).await.swap_remove(0);
    let writer = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    writer
        .execute_unprepared(&format!(
            "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) \
             VALUES ('{offer}', '2032-01-01 10:00:00+00', '2032-01-01 12:00:00+00')"
        ))
        .await
        .unwrap();
    let other = pg.connect().await;
    let deleter = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    deleter.execute_unprepared("SET LOCAL lock_timeout = '200ms'").await.unwrap();
    let delete = deleter.execute_unprepared(&format!("DELETE FROM offers WHERE id = '{offer}'")).await;
    assert!(delete.unwrap_err().to_string().contains("lock timeout"), "the offer was deleted under a writer");
    deleter.rollback().await.unwrap();
    writer.commit().await.unwrap();
    other.execute_unprepared(&format!("DELETE FROM offers WHERE id = '{offer}'")).await.unwrap();
    assert_eq!(occurrences_of(&db, &offer).await, 0, "the committed occurrence went with its offer");
    other.close().await.unwrap();
    db.close().await.unwrap();
}

/// `m20261207_000016` keys occurrences by offer and start; `m20261207_000017` stores them as two
/// arrays per event on PostgreSQL, behind a view of the rows. The rows survive each step both
/// ways, and a second occurrence at the same start of the same offer is refused at each.
async fn occurrences_survive_the_change_of_key(db: DatabaseConnection) {
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let ids = deletable_offers(&db).await;
    let insert = |offer: &str, day: u32| {
        format!(
            "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) VALUES \
             ('{offer}', '2033-03-{day:02} 10:00:00+00', '2033-03-{day:02} 18:00:00+00')"
        )
    };
    for offer in &ids[..2] {
        for day in [3, 1, 2] {
            db.execute_unprepared(&insert(offer, day)).await.unwrap();
        }
    }
    let counts = (occurrences_of(&db, &ids[0]).await, occurrences_of(&db, &ids[1]).await);
    assert_eq!(counts, (3, 3));
    let backend = db.get_database_backend();
    let postgres = backend == sea_orm::DbBackend::Postgres;
    // What a build older than migration 16 reads: every column, `id` included, none of them null.
    let oldest_build_reads = |db: DatabaseConnection| async move {
        let sql = "SELECT count(*) AS n FROM event_occurrences \
                   WHERE id IS NULL OR offer_id IS NULL OR starts_at IS NULL OR ends_at IS NULL";
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await;
        row.is_ok_and(|r| r.is_some_and(|r| r.try_get::<i64>("", "n").is_ok_and(|n| n == 0)))
    };
    let same_rows = |db: DatabaseConnection, ids: Vec<String>| async move {
        (occurrences_of(&db, &ids[0]).await, occurrences_of(&db, &ids[1]).await)
    };
    // Back to the serial key, then forward one step and the next: the same rows each time.
    Migrator::down(&db, Some(2)).await.unwrap();
    assert!(oldest_build_reads(db.clone()).await, "down gives the serial id back");
    assert_eq!(same_rows(db.clone(), ids.clone()).await, counts);
    assert!(db.execute_unprepared(&insert(&ids[0], 1)).await.is_err(), "a second occurrence at one start");
    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(oldest_build_reads(db.clone()).await, postgres, "id is kept, filled, on PostgreSQL only");
    assert_eq!(same_rows(db.clone(), ids.clone()).await, counts);
    if postgres {
        // One index left: the key on offer and start.
        let sql = "SELECT indexdef FROM pg_indexes WHERE tablename = 'event_occurrences'";
        let rows = db.query_all_raw(sea_orm::Statement::from_string(backend, sql)).await.unwrap();
        let defs: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "indexdef").unwrap()).collect();
        assert_eq!(defs.len(), 1, "{defs:?}");
        assert!(defs[0].contains("(offer_id, starts_at)"), "{defs:?}");
    }
    assert!(db.execute_unprepared(&insert(&ids[0], 2)).await.is_err(), "a second occurrence at one start");
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(same_rows(db.clone(), ids.clone()).await, counts);
    assert!(db.execute_unprepared(&insert(&ids[0], 2)).await.is_err(), "a second occurrence at one start");
    db.execute_unprepared(&insert(&ids[0], 4)).await.unwrap();
    assert_eq!(occurrences_of(&db, &ids[0]).await, 4);
    if postgres {
        // One row per event, its starts in order whatever the order they were written in.
        let days = event_days(&db, &ids[0]).await;
        assert_eq!(days, "01,02,03,04");
    }
}

/// The days of the month of an event's starts as `event_dates` holds them (PostgreSQL), in its
/// order, or an empty string without a row.
async fn event_days(db: &DatabaseConnection, offer: &str) -> String {
    let sql = format!(
        "SELECT coalesce((SELECT string_agg(to_char(s AT TIME ZONE 'UTC', 'DD'), ',' ORDER BY i) \
         FROM event_dates, unnest(starts) WITH ORDINALITY AS u(s, i) WHERE offer_id = '{offer}'), '') AS d"
    );
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    row.unwrap().try_get("", "d").unwrap()
}

/// On PostgreSQL, `event_dates` refuses what the rows refused (an end before its start, two
/// occurrences at one start) and what only arrays could hold (unordered starts, as many ends as
/// starts, nulls, no dates at all); the view of rows takes the statements of the previous build
/// (its import's `UNNEST` insert, its delete by offers), and single rows inserted, moved and
/// deleted, as a rolling upgrade would see them.
#[tokio::test]
async fn event_dates_check_their_arrays_and_serve_the_rows_on_postgres() {
    use sea_orm::{Statement, Value};
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let ids = deletable_offers(&db).await;
    let (a, b) = (&ids[0], &ids[1]);
    let backend = db.get_database_backend();
    let raw = |starts: &str, ends: &str| {
        format!("INSERT INTO event_dates (offer_id, starts, ends) VALUES ('{a}', '{starts}', '{ends}')")
    };
    let refused = [
        ("{2030-01-02 10:00Z,2030-01-01 10:00Z}", "{2030-01-02 11:00Z,2030-01-01 11:00Z}", "unordered starts"),
        ("{2030-01-01 10:00Z,2030-01-01 10:00Z}", "{2030-01-01 11:00Z,2030-01-01 12:00Z}", "one start twice"),
        ("{2030-01-01 10:00Z}", "{2030-01-01 09:00Z}", "an end before its start"),
        ("{2030-01-01 10:00Z,2030-01-02 10:00Z}", "{2030-01-01 11:00Z}", "fewer ends than starts"),
        ("{2030-01-01 10:00Z,NULL}", "{2030-01-01 11:00Z,2030-01-02 11:00Z}", "a null start"),
        ("{}", "{}", "no dates"),
        ("[0:0]={2030-01-01 10:00Z}", "[0:0]={2030-01-01 11:00Z}", "an array from 0"),
        ("{{2030-01-01 10:00Z}}", "{{2030-01-01 11:00Z}}", "two dimensions"),
    ];
    for (starts, ends, what) in refused {
        let err = db.execute_unprepared(&raw(starts, ends)).await.unwrap_err().to_string();
        assert!(err.contains("event_dates_are_valid"), "{what}: {err}");
    }
    db.execute_unprepared(&raw("{2030-01-01 10:00Z,2030-01-02 10:00Z}", "{2030-01-01 10:00Z,2030-01-02 11:00Z}"))
        .await
        .unwrap();
    assert_eq!(event_days(&db, a).await, "01,02");

    // The previous build's import: rows through `UNNEST`, in any order, several offers at once.
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2030, 1, d).unwrap().and_hms_opt(10, 0, 0).unwrap().and_utc();
    let insert = "INSERT INTO event_occurrences (offer_id, starts_at, ends_at) \
                  SELECT * FROM UNNEST($1::varchar[], $2::timestamptz[], $3::timestamptz[])";
    let values = [
        Value::from(vec![a.clone(), b.clone(), a.clone(), b.clone()]),
        Value::from(vec![day(5), day(7), day(3), day(6)]),
        Value::from(vec![day(5), day(7), day(3), day(6)]),
    ];
    db.execute_raw(Statement::from_sql_and_values(backend, insert, values)).await.unwrap();
    assert_eq!((event_days(&db, a).await, event_days(&db, b).await), ("01,02,03,05".into(), "06,07".into()));
    let again = [Value::from(vec![a.clone()]), Value::from(vec![day(3)]), Value::from(vec![day(4)])];
    let err = db.execute_raw(Statement::from_sql_and_values(backend, insert, again)).await.unwrap_err();
    assert!(err.to_string().contains("duplicate key"), "{err}");
    // Single rows moved and deleted; the last one deleted takes the event's row with it.
    db.execute_unprepared(&format!(
        "UPDATE event_occurrences SET starts_at = '2030-01-09 10:00Z', ends_at = '2030-01-09 12:00Z' \
         WHERE offer_id = '{a}' AND starts_at = '2030-01-02 10:00Z'"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "DELETE FROM event_occurrences WHERE offer_id = '{a}' AND starts_at < '2030-01-04'"
    ))
    .await
    .unwrap();
    assert_eq!(event_days(&db, a).await, "05,09");
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT ends_at FROM event_occurrences WHERE offer_id = '{a}' ORDER BY starts_at"),
        ))
        .await
        .unwrap();
    let ends: Vec<chrono::DateTime<chrono::Utc>> = rows.iter().map(|r| r.try_get("", "ends_at").unwrap()).collect();
    assert_eq!(ends, vec![day(5), day(9) + chrono::Duration::hours(2)]);
    // The previous build's replacement: its offers' rows deleted together.
    db.execute_unprepared(&format!("DELETE FROM event_occurrences WHERE offer_id IN ('{a}', '{b}')")).await.unwrap();
    assert_eq!((event_days(&db, a).await, event_days(&db, b).await), (String::new(), String::new()));
    let left = format!("SELECT count(*) AS n FROM event_dates WHERE offer_id IN ('{a}', '{b}')");
    let left = db.query_one_raw(Statement::from_string(backend, left)).await;
    assert_eq!(left.unwrap().unwrap().try_get::<i64>("", "n").unwrap(), 0);
    db.close().await.unwrap();
}

#[tokio::test]
async fn occurrences_survive_the_change_of_key_on_sqlite() {
    let db = SqliteDatabase::create();
    occurrences_survive_the_change_of_key(db.connect_pooled().await).await;
}

#[tokio::test]
async fn occurrences_survive_the_change_of_key_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    occurrences_survive_the_change_of_key(db.clone()).await;
    db.close().await.unwrap();
}

/// The stored occurrences of an offer, in order.
async fn stored_occurrences(
    db: &DatabaseConnection,
    offer: &str,
) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    use sea_orm::QueryOrder;
    EventOccurrence::find()
        .filter(entities::event_occurrence::Column::OfferId.eq(offer))
        .order_by_asc(entities::event_occurrence::Column::StartsAt)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.starts_at, o.ends_at))
        .collect()
}

/// The stored media URLs of an offer, by position.
async fn stored_media(db: &DatabaseConnection, offer: &str) -> Vec<(i32, String)> {
    use sea_orm::QueryOrder;
    Media::find()
        .filter(entities::media::Column::OfferId.eq(offer))
        .order_by_asc(entities::media::Column::Position)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.position, m.url))
        .collect()
}

/// Commits `w` as a new version of the offers `ids` (children alone are not a change).
async fn commit_touching(mut w: entities::write::Writer, ids: &[&str]) {
    for id in ids {
        let o = w.get(id).await.unwrap();
        w.touch(&o, o.version, entities::vocab::RevisionAction::Update).await.unwrap();
    }
    w.commit().await.unwrap();
}

/// Occurrences and media of several offers replaced at once (the importer's path) are checked,
/// compared and written for each as one replaced alone would be, and say which changed.
async fn occurrences_and_media_of_many_offers_replace_each_as_alone(db: DatabaseConnection) {
    use chrono::TimeZone;
    use entities::write::Writer;
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let ids = deletable_offers(&db).await;
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    let at = |day: u32, hour: u32| chrono::Utc.with_ymd_and_hms(2031, 5, day, hour, 0, 0).unwrap();
    // Out of order and one start twice: stored in order, once.
    let first = vec![(at(3, 10), at(3, 12)), (at(1, 10), at(1, 12)), (at(3, 10), at(3, 18))];
    let third = vec![(at(9, 9), at(9, 17))];
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let changed = w.set_occurrences_many(&[(a, &first), (b, &[]), (c, &third)]).await.unwrap();
    assert_eq!(changed, [true, false, true]);
    commit_touching(w, &[a, c]).await;
    assert_eq!(stored_occurrences(&db, a).await, [(at(1, 10), at(1, 12)), (at(3, 10), at(3, 12))]);
    assert_eq!(stored_occurrences(&db, b).await, []);
    assert_eq!(stored_occurrences(&db, c).await, third);

    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    assert_eq!(w.set_occurrences_many(&[(a, &first), (c, &third)]).await.unwrap(), [false, false], "the same again");
    assert!(!w.set_occurrences(a, &first).await.unwrap(), "alone, the same");
    let other = vec![(at(2, 10), at(2, 11))];
    assert_eq!(w.set_occurrences_many(&[(a, &other), (c, &third)]).await.unwrap(), [true, false]);
    commit_touching(w, &[a]).await;
    assert_eq!(stored_occurrences(&db, a).await, other);
    assert_eq!(stored_occurrences(&db, c).await, third, "an unchanged list is left alone");

    // A bad list refuses the whole call; the unit rolled back leaves everything as it was.
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let bad = vec![(at(4, 10), at(4, 12)), (at(5, 12), at(5, 10))];
    let e = w.set_occurrences_many(&[(c, &[]), (a, &bad)]).await.unwrap_err();
    assert!(e.to_string().contains("occurrences[1].end"), "{e}");
    w.rollback().await.unwrap();
    assert_eq!(stored_occurrences(&db, c).await, third);

    // Forty-five events of a thousand dates each: more than one statement's worth on PostgreSQL
    // (40,000 dates), each event's dates its own whatever statement carries them.
    assert!(ids.len() >= 45, "{} deletable offers", ids.len());
    let many: Vec<Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>> = (0..45)
        .map(|k| {
            (0..1000)
                .map(|j| {
                    let start = at(1, 0) + chrono::Duration::hours(j) + chrono::Duration::minutes(k);
                    (start, start + chrono::Duration::minutes(30 + k))
                })
                .collect()
        })
        .collect();
    let lists: Vec<(&str, &[_])> = ids.iter().zip(&many).map(|(id, list)| (id.as_str(), list.as_slice())).collect();
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    assert!(w.set_occurrences_many(&lists).await.unwrap().iter().all(|changed| *changed));
    let touched: Vec<&str> = lists.iter().map(|(id, _)| *id).collect();
    commit_touching(w, &touched).await;
    for (id, list) in &lists {
        assert_eq!(stored_occurrences(&db, id).await, *list, "{id}");
    }

    let picture = |url: &str| entities::media::Model {
        id: String::new(),
        offer_id: String::new(),
        position: 0,
        kind: entities::vocab::MediaKind::Image,
        url: url.to_owned(),
        title: None,
        licence: Some("CC BY 4.0".into()),
        credit: None,
        mime_type: None,
    };
    let (one, two) = ("https://example.org/1.jpg", "https://example.org/2.jpg");
    let before_b = stored_media(&db, b).await;
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let changed = w
        .set_media_many(vec![(a.into(), vec![picture(one), picture(two)]), (c.into(), vec![picture(two)])])
        .await
        .unwrap();
    assert_eq!(changed, [true, true]);
    commit_touching(w, &[a, c]).await;
    assert_eq!(stored_media(&db, a).await, [(1, one.to_owned()), (2, two.to_owned())]);
    assert_eq!(stored_media(&db, c).await, [(1, two.to_owned())]);
    assert_eq!(stored_media(&db, b).await, before_b, "an offer not named is left alone");

    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let same = vec![(a.into(), vec![picture(one), picture(two)]), (c.into(), vec![picture(two)])];
    assert_eq!(w.set_media_many(same).await.unwrap(), [false, false]);
    let swapped = vec![(c.into(), vec![picture(two)]), (a.into(), vec![picture(two), picture(one)])];
    assert_eq!(w.set_media_many(swapped).await.unwrap(), [false, true]);
    let e = w.set_media_many(vec![(c.into(), vec![picture("javascript:alert(1)")])]).await.unwrap_err();
    assert!(e.to_string().contains("media[0].url"), "{e}");
    w.rollback().await.unwrap();
    assert_eq!(stored_media(&db, a).await, [(1, one.to_owned()), (2, two.to_owned())], "rolled back");
}

/// Offers updated many at once (the importer's path) are written as each updated alone would
/// be, each with its next version and its revision, and the unit is refused whole when one of
/// them moved on, is gone or is named twice.
async fn offers_updated_many_at_once_are_each_as_alone(db: DatabaseConnection) {
    use entities::vocab::RevisionAction;
    use entities::write::{WriteError, Writer};
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let ids = deletable_offers(&db).await;
    let get = |id: String| {
        let db = db.clone();
        async move { Offer::find_by_id(id).one(&db).await.unwrap().unwrap() }
    };
    let (a, b, c) = (get(ids[0].clone()).await, get(ids[1].clone()).await, get(ids[2].clone()).await);
    let renamed = |o: &offer::Model, name: &str| {
        let mut after = o.clone();
        after.name = entities::values::Texts::fr(name);
        after
    };

    // What hangs off an offer stays: the row is updated in place, never replaced.
    use chrono::TimeZone;
    let day = (
        chrono::Utc.with_ymd_and_hms(2031, 5, 1, 10, 0, 0).unwrap(),
        chrono::Utc.with_ymd_and_hms(2031, 5, 1, 12, 0, 0).unwrap(),
    );
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    w.set_occurrences(&a.id, &[day]).await.unwrap();
    commit_touching(w, &[&a.id]).await;
    let a = get(a.id.clone()).await;
    assert_eq!(stored_occurrences(&db, &a.id).await, [day]);
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let written =
        w.update_many(vec![(&a, renamed(&a, "Premier")), (&c, renamed(&c, "Troisième"))], RevisionAction::Import).await;
    let written = written.unwrap();
    let committed = w.commit().await.unwrap().unwrap();
    let versions: Vec<(String, i32)> = committed.changes.iter().map(|c| (c.offer_id.clone(), c.version)).collect();
    assert_eq!(versions, [(a.id.clone(), a.version + 1), (c.id.clone(), c.version + 1)]);
    for (before, after) in [(&a, &written[0]), (&c, &written[1])] {
        let stored = get(before.id.clone()).await;
        assert_eq!(stored.version, before.version + 1);
        assert_eq!(stored.name, after.name);
        assert_eq!((&stored.slug, stored.created_at, stored.status), (&before.slug, before.created_at, before.status));
        assert!(stored.updated_at > before.updated_at);
        let revision = Revision::find()
            .filter(entities::revision::Column::OfferId.eq(before.id.as_str()))
            .filter(entities::revision::Column::Version.eq(stored.version))
            .one(&db)
            .await
            .unwrap()
            .expect("a revision of the new version");
        assert_eq!(revision.action, RevisionAction::Import);
        assert_eq!(revision.before.unwrap()["name"], serde_json::to_value(&before.name).unwrap());
    }
    assert_eq!(get(b.id.clone()).await, b, "an offer not named is left alone");
    assert_eq!(stored_occurrences(&db, &a.id).await, [day], "its occurrences kept");

    // `a` moved on: the whole unit is refused with its current version, `b` is not written.
    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let stale = w.update_many(vec![(&b, renamed(&b, "Deuxième")), (&a, renamed(&a, "Vieux"))], RevisionAction::Import);
    match stale.await {
        Err(WriteError::Conflict { current }) => assert_eq!(current, a.version + 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    w.rollback().await.unwrap();
    assert_eq!(get(b.id.clone()).await, b);

    let mut w = Writer::begin(&db, "test", "").await.unwrap();
    let mut gone = b.clone();
    gone.id = "00000000-0000-0000-0000-000000000000".into();
    let e = w.update_many(vec![(&gone, renamed(&b, "Nulle part"))], RevisionAction::Import).await.unwrap_err();
    assert!(matches!(e, WriteError::NotFound(_)), "{e}");
    let e = w.update_many(vec![(&b, renamed(&b, "Un")), (&b, renamed(&b, "Deux"))], RevisionAction::Import).await;
    assert!(e.unwrap_err().to_string().contains("[1].id"));
    let e = w.update_many(vec![(&b, renamed(&b, ""))], RevisionAction::Import).await.unwrap_err();
    assert!(matches!(e, WriteError::Invalid(_)), "a bad offer is refused as alone: {e}");
    w.rollback().await.unwrap();
    assert_eq!(get(b.id.clone()).await, b);
}

#[tokio::test]
async fn offers_updated_many_at_once_on_sqlite() {
    let db = SqliteDatabase::create();
    offers_updated_many_at_once_are_each_as_alone(db.connect().await).await;
}

#[tokio::test]
async fn offers_updated_many_at_once_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    offers_updated_many_at_once_are_each_as_alone(db.clone()).await;
    db.close().await.unwrap();
}

/// On PostgreSQL the offers updated many at once are locked until the commit: a writer of
/// another connection that changes one of them meanwhile waits, then finds it moved on.
#[tokio::test]
async fn offers_updated_many_at_once_hold_their_rows_until_the_commit() {
    use entities::vocab::RevisionAction;
    use entities::write::{WriteError, Writer};
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    Migrator::up(&db, None).await.unwrap();
    seed::load(&db, &seed::territory().unwrap()).await.unwrap();
    let id = deletable_offers(&db).await.remove(0);
    let a = Offer::find_by_id(id.clone()).one(&db).await.unwrap().unwrap();
    let mut w = Writer::begin(&db, "importer", "").await.unwrap();
    w.update_many(vec![(&a, a.clone())], RevisionAction::Import).await.unwrap();

    let other = pg.connect().await;
    let (before, started) = (a.clone(), tokio::sync::oneshot::channel::<()>());
    let (started_tx, started_rx) = started;
    let editor = tokio::spawn(async move {
        let mut w = Writer::begin(&other, "editor", "").await.unwrap();
        started_tx.send(()).unwrap();
        let outcome = w.update(&before, before.clone(), before.version, RevisionAction::Update).await;
        w.rollback().await.unwrap();
        outcome.map(|o| o.version)
    });
    started_rx.await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!editor.is_finished(), "the editor waits for the importer's unit");
    w.commit().await.unwrap();
    match editor.await.unwrap() {
        Err(WriteError::Conflict { current }) => assert_eq!(current, a.version + 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn occurrences_and_media_of_many_offers_on_sqlite() {
    let db = SqliteDatabase::create();
    occurrences_and_media_of_many_offers_replace_each_as_alone(db.connect().await).await;
}

#[tokio::test]
async fn occurrences_and_media_of_many_offers_on_postgres() {
    let Some(pg) = PgDatabase::create().await else { return };
    let db = pg.connect().await;
    occurrences_and_media_of_many_offers_replace_each_as_alone(db.clone()).await;
    db.close().await.unwrap();
}
