//! The offers: every place, accommodation, event, route and service.

use sea_orm_migration::prelude::*;

use crate::m20261125_000001_create_communes::Communes;
use crate::names::{GEO_PRECISIONS, OFFER_KINDS, OFFER_STATUSES};
use crate::one_of;

/// Creates `offers`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_create_offers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Offers::Table)
                    .col(ColumnDef::new(Offers::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Offers::Slug).string().not_null().unique_key())
                    .col(ColumnDef::new(Offers::Kind).string().not_null())
                    .col(ColumnDef::new(Offers::Classes).json_binary().not_null())
                    .col(ColumnDef::new(Offers::IsTotem).boolean().not_null().default(false))
                    .col(ColumnDef::new(Offers::Name).json_binary().not_null())
                    .col(ColumnDef::new(Offers::ShortDescription).json_binary().null())
                    .col(ColumnDef::new(Offers::Description).json_binary().null())
                    .col(ColumnDef::new(Offers::Lon).double().not_null())
                    .col(ColumnDef::new(Offers::Lat).double().not_null())
                    .col(ColumnDef::new(Offers::GeoPrecision).string().not_null())
                    .col(ColumnDef::new(Offers::Geometry).text().null())
                    .col(ColumnDef::new(Offers::MinLon).double().not_null())
                    .col(ColumnDef::new(Offers::MinLat).double().not_null())
                    .col(ColumnDef::new(Offers::MaxLon).double().not_null())
                    .col(ColumnDef::new(Offers::MaxLat).double().not_null())
                    .col(ColumnDef::new(Offers::CommuneInsee).string_len(5).null())
                    .col(ColumnDef::new(Offers::InTerritory).boolean().not_null().default(true))
                    .col(ColumnDef::new(Offers::Address).json_binary().null())
                    .col(ColumnDef::new(Offers::Contacts).json_binary().null())
                    .col(ColumnDef::new(Offers::OpeningHours).text().null())
                    .col(ColumnDef::new(Offers::OpeningHoursText).text().null())
                    .col(ColumnDef::new(Offers::Prices).json_binary().null())
                    .col(ColumnDef::new(Offers::Accessibility).json_binary().null())
                    .col(ColumnDef::new(Offers::Labels).json_binary().not_null())
                    .col(ColumnDef::new(Offers::Capacity).json_binary().null())
                    .col(ColumnDef::new(Offers::Source).string().not_null())
                    .col(ColumnDef::new(Offers::SourceId).string().not_null())
                    .col(ColumnDef::new(Offers::SourceLicence).string().not_null())
                    .col(ColumnDef::new(Offers::SourceAttribution).text().not_null())
                    .col(ColumnDef::new(Offers::SourceUrl).text().null())
                    .col(ColumnDef::new(Offers::SourceUpdatedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Offers::Owner).string().null())
                    .col(ColumnDef::new(Offers::Status).string().not_null())
                    .col(ColumnDef::new(Offers::Version).integer().not_null().default(1))
                    .col(ColumnDef::new(Offers::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Offers::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Offers::DeletedAt).timestamp_with_time_zone().null())
                    .check(one_of(Offers::Kind, OFFER_KINDS))
                    .check(one_of(Offers::Status, OFFER_STATUSES))
                    .check(one_of(Offers::GeoPrecision, GEO_PRECISIONS))
                    .check(Expr::col(Offers::Lon).between(-180.0, 180.0))
                    .check(Expr::col(Offers::Lat).between(-90.0, 90.0))
                    .check(Expr::col(Offers::Version).gte(1))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_offers_commune")
                            .from(Offers::Table, Offers::CommuneInsee)
                            .to(Communes::Table, Communes::Insee)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_offers_source")
                    .table(Offers::Table)
                    .col(Offers::Source)
                    .col(Offers::SourceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_offers_updated_at").table(Offers::Table).col(Offers::UpdatedAt).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Offers::Table).to_owned()).await
    }
}

/// Columns of `offers`.
#[derive(DeriveIden)]
pub enum Offers {
    Table,
    Id,
    Slug,
    Kind,
    Classes,
    IsTotem,
    Name,
    ShortDescription,
    Description,
    Lon,
    Lat,
    GeoPrecision,
    Geometry,
    MinLon,
    MinLat,
    MaxLon,
    MaxLat,
    CommuneInsee,
    InTerritory,
    Address,
    Contacts,
    OpeningHours,
    OpeningHoursText,
    Prices,
    Accessibility,
    Labels,
    Capacity,
    Source,
    SourceId,
    SourceLicence,
    SourceAttribution,
    SourceUrl,
    SourceUpdatedAt,
    Owner,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}
