//! Whether an offer was ever public: the change feed names only those, so walking it reveals no
//! draft, not even by its id in a cursor.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261125_000002_create_offers::Offers;

/// Adds `offers.published_once`, filled from the current status and the revisions.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000012_add_offers_published_once"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Offers::Table)
                    .add_column(ColumnDef::new(PublishedOnce::PublishedOnce).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        let status_before = match manager.get_database_backend() {
            DbBackend::Postgres => "r.before->>'status'",
            _ => "json_extract(r.before, '$.status')",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE offers SET published_once = TRUE \
                 WHERE (status = 'published' AND deleted_at IS NULL) \
                 OR id IN (SELECT r.offer_id FROM revisions r WHERE {status_before} = 'published')"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Offers::Table).drop_column(PublishedOnce::PublishedOnce).to_owned())
            .await
    }
}

/// The new column.
#[derive(DeriveIden)]
enum PublishedOnce {
    PublishedOnce,
}
