//! QR signage codes and their daily scan counts.

use sea_orm_migration::prelude::*;

use crate::one_of;

/// Creates `qr_codes` and `qr_scans`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000006_create_qr_codes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QrCodes::Table)
                    .col(ColumnDef::new(QrCodes::Code).string_len(8).not_null().primary_key())
                    .col(ColumnDef::new(QrCodes::TargetKind).string().not_null())
                    .col(ColumnDef::new(QrCodes::TargetId).string().not_null())
                    .col(ColumnDef::new(QrCodes::CreatedAt).timestamp_with_time_zone().not_null())
                    .check(one_of(QrCodes::TargetKind, &["offer", "route", "theme"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_qr_codes_target")
                    .table(QrCodes::Table)
                    .col(QrCodes::TargetKind)
                    .col(QrCodes::TargetId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QrScans::Table)
                    .col(ColumnDef::new(QrScans::Code).string_len(8).not_null())
                    .col(ColumnDef::new(QrScans::Day).date().not_null())
                    .col(ColumnDef::new(QrScans::Count).big_integer().not_null())
                    .primary_key(Index::create().col(QrScans::Code).col(QrScans::Day))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_qr_scans_code")
                            .from(QrScans::Table, QrScans::Code)
                            .to(QrCodes::Table, QrCodes::Code)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(Expr::col(QrScans::Count).gte(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(QrScans::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(QrCodes::Table).to_owned()).await
    }
}

/// Columns of `qr_codes`.
#[derive(DeriveIden)]
pub enum QrCodes {
    Table,
    Code,
    TargetKind,
    TargetId,
    CreatedAt,
}

/// Columns of `qr_scans`.
#[derive(DeriveIden)]
pub enum QrScans {
    Table,
    Code,
    Day,
    Count,
}
