//! The communes of the territory.

use sea_orm_migration::prelude::*;

/// Creates `communes`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_create_communes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Communes::Table)
                    .col(ColumnDef::new(Communes::Insee).string_len(5).not_null().primary_key())
                    .col(ColumnDef::new(Communes::Name).string().not_null())
                    .col(ColumnDef::new(Communes::Postcodes).json_binary().not_null())
                    .col(ColumnDef::new(Communes::Population).big_integer().not_null())
                    .col(ColumnDef::new(Communes::Geometry).text().not_null())
                    .col(ColumnDef::new(Communes::MinLon).double().not_null())
                    .col(ColumnDef::new(Communes::MinLat).double().not_null())
                    .col(ColumnDef::new(Communes::MaxLon).double().not_null())
                    .col(ColumnDef::new(Communes::MaxLat).double().not_null())
                    .col(ColumnDef::new(Communes::Lon).double().not_null())
                    .col(ColumnDef::new(Communes::Lat).double().not_null())
                    .col(ColumnDef::new(Communes::Source).string().not_null())
                    .col(ColumnDef::new(Communes::Licence).string().not_null())
                    .check(Expr::col(Communes::Population).gte(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Communes::Table).to_owned()).await
    }
}

/// Columns of `communes`.
#[derive(DeriveIden)]
pub enum Communes {
    Table,
    Insee,
    Name,
    Postcodes,
    Population,
    Geometry,
    MinLon,
    MinLat,
    MaxLon,
    MaxLat,
    Lon,
    Lat,
    Source,
    Licence,
}
