//! The catalog version at which each offer last changed: a sequence in commit order (writers
//! serialise on the `catalog_state` row), so a partner's change feed can resume without a gap.

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;

/// Adds `offers.catalog_version`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000010_add_offers_catalog_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Offers::Table)
                    .add_column(ColumnDef::new(ChangeSeq::CatalogVersion).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_offers_catalog_version")
                    .table(Offers::Table)
                    .col(ChangeSeq::CatalogVersion)
                    .col(Offers::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_offers_catalog_version").table(Offers::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Offers::Table).drop_column(ChangeSeq::CatalogVersion).to_owned()).await
    }
}

/// The new column.
#[derive(DeriveIden)]
enum ChangeSeq {
    CatalogVersion,
}
