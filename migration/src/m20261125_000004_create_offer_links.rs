//! What hangs off an offer: its themes, its corrélats, its event occurrences and its media.

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;
use crate::m20261125_000003_create_themes::Themes;
use crate::one_of;

/// Creates `offer_themes`, `offer_correlates`, `event_occurrences` and `media`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000004_create_offer_links"
    }
}

fn offer_fk(table: impl IntoIden + 'static, column: impl IntoIden + 'static, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Offers::Table, Offers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfferThemes::Table)
                    .col(ColumnDef::new(OfferThemes::OfferId).string_len(36).not_null())
                    .col(ColumnDef::new(OfferThemes::ThemeCode).string().not_null())
                    .primary_key(Index::create().col(OfferThemes::OfferId).col(OfferThemes::ThemeCode))
                    .foreign_key(&mut offer_fk(OfferThemes::Table, OfferThemes::OfferId, "fk_offer_themes_offer"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_offer_themes_theme")
                            .from(OfferThemes::Table, OfferThemes::ThemeCode)
                            .to(Themes::Table, Themes::Code)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OfferCorrelates::Table)
                    .col(ColumnDef::new(OfferCorrelates::TotemId).string_len(36).not_null())
                    .col(ColumnDef::new(OfferCorrelates::OfferId).string_len(36).not_null())
                    .col(ColumnDef::new(OfferCorrelates::Position).integer().not_null())
                    .primary_key(Index::create().col(OfferCorrelates::TotemId).col(OfferCorrelates::OfferId))
                    .foreign_key(&mut offer_fk(
                        OfferCorrelates::Table,
                        OfferCorrelates::TotemId,
                        "fk_offer_correlates_totem",
                    ))
                    .foreign_key(&mut offer_fk(
                        OfferCorrelates::Table,
                        OfferCorrelates::OfferId,
                        "fk_offer_correlates_offer",
                    ))
                    .check(Expr::col(OfferCorrelates::TotemId).ne(Expr::col(OfferCorrelates::OfferId)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventOccurrences::Table)
                    .col(ColumnDef::new(EventOccurrences::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(EventOccurrences::OfferId).string_len(36).not_null())
                    .col(ColumnDef::new(EventOccurrences::StartsAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(EventOccurrences::EndsAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut offer_fk(
                        EventOccurrences::Table,
                        EventOccurrences::OfferId,
                        "fk_event_occurrences_offer",
                    ))
                    .check(Expr::col(EventOccurrences::EndsAt).gte(Expr::col(EventOccurrences::StartsAt)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_event_occurrences_offer_start")
                    .table(EventOccurrences::Table)
                    .col(EventOccurrences::OfferId)
                    .col(EventOccurrences::StartsAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Media::Table)
                    .col(ColumnDef::new(Media::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Media::OfferId).string_len(36).not_null())
                    .col(ColumnDef::new(Media::Position).integer().not_null())
                    .col(ColumnDef::new(Media::Kind).string().not_null())
                    .col(ColumnDef::new(Media::Url).text().not_null())
                    .col(ColumnDef::new(Media::Title).json_binary().null())
                    .col(ColumnDef::new(Media::Licence).string().null())
                    .col(ColumnDef::new(Media::Credit).text().null())
                    .col(ColumnDef::new(Media::MimeType).string().null())
                    .foreign_key(&mut offer_fk(Media::Table, Media::OfferId, "fk_media_offer"))
                    .check(one_of(Media::Kind, &["image", "video", "audio", "document"]))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Media::Table.into_iden(),
            EventOccurrences::Table.into_iden(),
            OfferCorrelates::Table.into_iden(),
            OfferThemes::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Columns of `offer_themes`.
#[derive(DeriveIden)]
pub enum OfferThemes {
    Table,
    OfferId,
    ThemeCode,
}

/// Columns of `offer_correlates`.
#[derive(DeriveIden)]
pub enum OfferCorrelates {
    Table,
    TotemId,
    OfferId,
    Position,
}

/// Columns of `event_occurrences`.
#[derive(DeriveIden)]
pub enum EventOccurrences {
    Table,
    Id,
    OfferId,
    StartsAt,
    EndsAt,
}

/// Columns of `media`.
#[derive(DeriveIden)]
pub enum Media {
    Table,
    Id,
    OfferId,
    Position,
    Kind,
    Url,
    Title,
    Licence,
    Credit,
    MimeType,
}
