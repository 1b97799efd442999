//! API keys (hashed tokens with a role).

use sea_orm_migration::prelude::*;

use crate::one_of;

/// Creates `api_keys`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000007_create_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(ColumnDef::new(ApiKeys::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::Name).string().not_null())
                    .col(ColumnDef::new(ApiKeys::Role).string().not_null())
                    .col(ColumnDef::new(ApiKeys::Owner).string().null())
                    .col(ColumnDef::new(ApiKeys::TokenHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(ApiKeys::QuotaPerMinute).integer().null())
                    .col(ColumnDef::new(ApiKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApiKeys::RevokedAt).timestamp_with_time_zone().null())
                    .check(one_of(ApiKeys::Role, &["admin", "editor", "provider", "partner"]))
                    .check(Expr::col(ApiKeys::Role).ne("provider").or(Expr::col(ApiKeys::Owner).is_not_null()))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await
    }
}

/// Columns of `api_keys`.
#[derive(DeriveIden)]
pub enum ApiKeys {
    Table,
    Id,
    Name,
    Role,
    Owner,
    TokenHash,
    QuotaPerMinute,
    CreatedAt,
    RevokedAt,
}
