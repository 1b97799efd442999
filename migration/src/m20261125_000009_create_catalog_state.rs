//! The catalog version row that API instances poll.

use sea_orm_migration::prelude::*;

/// Creates `catalog_state` with its single row.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000009_create_catalog_state"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogState::Table)
                    .col(ColumnDef::new(CatalogState::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(CatalogState::Version).big_integer().not_null())
                    .col(ColumnDef::new(CatalogState::UpdatedAt).timestamp_with_time_zone().not_null())
                    .check(Expr::col(CatalogState::Id).eq(1))
                    .to_owned(),
            )
            .await?;
        // The row is structural (the version counter), not seed data.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CatalogState::Table)
                    .columns([CatalogState::Id, CatalogState::Version, CatalogState::UpdatedAt])
                    .values_panic([1.into(), 0i64.into(), Expr::current_timestamp()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CatalogState::Table).to_owned()).await
    }
}

/// Columns of `catalog_state`.
#[derive(DeriveIden)]
pub enum CatalogState {
    Table,
    Id,
    Version,
    UpdatedAt,
}
