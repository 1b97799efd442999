//! The history of every offer.

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;
use crate::one_of;

/// Creates `revisions`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000008_create_revisions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Revisions::Table)
                    .col(ColumnDef::new(Revisions::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Revisions::OfferId).string_len(36).not_null())
                    .col(ColumnDef::new(Revisions::Version).integer().not_null())
                    .col(ColumnDef::new(Revisions::Action).string().not_null())
                    .col(ColumnDef::new(Revisions::Actor).string().not_null())
                    .col(ColumnDef::new(Revisions::Before).json_binary().null())
                    .col(ColumnDef::new(Revisions::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_revisions_offer")
                            .from(Revisions::Table, Revisions::OfferId)
                            .to(Offers::Table, Offers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(one_of(
                        Revisions::Action,
                        &["create", "update", "publish", "unpublish", "archive", "delete", "restore", "seed", "import"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_revisions_offer_version")
                    .table(Revisions::Table)
                    .col(Revisions::OfferId)
                    .col(Revisions::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Revisions::Table).to_owned()).await
    }
}

/// Columns of `revisions`.
#[derive(DeriveIden)]
pub enum Revisions {
    Table,
    Id,
    OfferId,
    Version,
    Action,
    Actor,
    Before,
    CreatedAt,
}
