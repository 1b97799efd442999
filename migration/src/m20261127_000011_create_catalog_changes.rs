//! The change rows API instances catch up from: one row per catalog version (`catalog_changes`),
//! and the catalog version of each revision, so the offers a version changed are known.

use sea_orm_migration::prelude::*;

use crate::m20261125_000008_create_revisions::Revisions;
use crate::one_of;

/// Creates `catalog_changes` and adds `revisions.catalog_version`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000011_create_catalog_changes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogChanges::Table)
                    .col(ColumnDef::new(CatalogChanges::Version).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(CatalogChanges::Scope).string().not_null())
                    .col(ColumnDef::new(CatalogChanges::Offers).integer().not_null().default(0))
                    .col(ColumnDef::new(CatalogChanges::CreatedAt).timestamp_with_time_zone().not_null())
                    .check(one_of(CatalogChanges::Scope, &["offers", "reference"]))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Revisions::Table)
                    .add_column(ColumnDef::new(RevisionVersion::CatalogVersion).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_revisions_catalog_version")
                    .table(Revisions::Table)
                    .col(RevisionVersion::CatalogVersion)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_revisions_catalog_version").table(Revisions::Table).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Revisions::Table).drop_column(RevisionVersion::CatalogVersion).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(CatalogChanges::Table).to_owned()).await
    }
}

/// Columns of `catalog_changes`.
#[derive(DeriveIden)]
pub enum CatalogChanges {
    Table,
    Version,
    Scope,
    Offers,
    CreatedAt,
}

/// The new column of `revisions`.
#[derive(DeriveIden)]
enum RevisionVersion {
    CatalogVersion,
}
