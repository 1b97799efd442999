//! The five themes, each with its totem offer.

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;

/// Creates `themes`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000003_create_themes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Themes::Table)
                    .col(ColumnDef::new(Themes::Code).string().not_null().primary_key())
                    .col(ColumnDef::new(Themes::Name).json_binary().not_null())
                    .col(ColumnDef::new(Themes::Description).json_binary().not_null())
                    .col(ColumnDef::new(Themes::Position).integer().not_null())
                    .col(ColumnDef::new(Themes::TotemOfferId).string_len(36).null())
                    .col(ColumnDef::new(Themes::Color).string_len(7).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_themes_totem")
                            .from(Themes::Table, Themes::TotemOfferId)
                            .to(Offers::Table, Offers::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Themes::Table).to_owned()).await
    }
}

/// Columns of `themes`.
#[derive(DeriveIden)]
pub enum Themes {
    Table,
    Code,
    Name,
    Description,
    Position,
    TotemOfferId,
    Color,
}
