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
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().len()
}

async fn migrations_go_up_down_and_up(db: DatabaseConnection) {
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 15);
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 0);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 15);
}

#[tokio::test]
async fn migrations_up_down_up_on_sqlite() {
    let db = SqliteDatabase::create();
    migrations_go_up_down_and_up(db.connect().await).await;
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
