//! Routes: the itinerary facts of a route offer and its ordered stages.

use sea_orm_migration::prelude::*;

use crate::m20261125_000002_create_offers::Offers;
use crate::one_of;

/// Creates `routes` and `route_stages`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000005_create_routes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Routes::Table)
                    .col(ColumnDef::new(Routes::OfferId).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(Routes::LengthMeters).double().not_null())
                    .col(ColumnDef::new(Routes::Practices).json_binary().not_null())
                    .col(ColumnDef::new(Routes::Difficulty).string().null())
                    .col(ColumnDef::new(Routes::LinePrecision).string().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_routes_offer")
                            .from(Routes::Table, Routes::OfferId)
                            .to(Offers::Table, Offers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(Expr::col(Routes::LengthMeters).gte(0.0))
                    .check(one_of(Routes::LinePrecision, &["surveyed", "schematic"]))
                    .check(
                        Expr::col(Routes::Difficulty)
                            .is_null()
                            .or(one_of(Routes::Difficulty, &["easy", "medium", "hard"])),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RouteStages::Table)
                    .col(ColumnDef::new(RouteStages::RouteId).string_len(36).not_null())
                    .col(ColumnDef::new(RouteStages::Position).integer().not_null())
                    .col(ColumnDef::new(RouteStages::OfferId).string_len(36).not_null())
                    .primary_key(Index::create().col(RouteStages::RouteId).col(RouteStages::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_route_stages_route")
                            .from(RouteStages::Table, RouteStages::RouteId)
                            .to(Routes::Table, Routes::OfferId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_route_stages_offer")
                            .from(RouteStages::Table, RouteStages::OfferId)
                            .to(Offers::Table, Offers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .check(Expr::col(RouteStages::Position).gte(1))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RouteStages::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Routes::Table).to_owned()).await
    }
}

/// Columns of `routes`.
#[derive(DeriveIden)]
pub enum Routes {
    Table,
    OfferId,
    LengthMeters,
    Practices,
    Difficulty,
    LinePrecision,
}

/// Columns of `route_stages`.
#[derive(DeriveIden)]
pub enum RouteStages {
    Table,
    RouteId,
    Position,
    OfferId,
}
