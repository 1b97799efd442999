//! Classified accommodation and notes on revisions: `offers.classification` (Atout France's
//! register, a JSON value) and `revisions.note` (why, when the writer says).

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;
use crate::m20261125_000008_create_revisions::Revisions;

/// Adds `offers.classification` and `revisions.note`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000013_add_classification_and_notes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Offers::Table)
                    .add_column(ColumnDef::new(New::Classification).json_binary().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Revisions::Table).add_column(ColumnDef::new(New::Note).text().null()).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Revisions::Table).drop_column(New::Note).to_owned()).await?;
        manager.alter_table(Table::alter().table(Offers::Table).drop_column(New::Classification).to_owned()).await
    }
}

/// The new columns.
#[derive(DeriveIden)]
enum New {
    Classification,
    Note,
}
