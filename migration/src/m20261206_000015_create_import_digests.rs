//! The digests of imported objects, so that a re-import skips the objects it has already read.

use sea_orm_migration::prelude::*;

/// Creates `import_digests`: per imported offer, the digest of the bytes it was last read from.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000015_create_import_digests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportDigests::Table)
                    .col(ColumnDef::new(ImportDigests::Source).string().not_null())
                    .col(ColumnDef::new(ImportDigests::SourceId).string().not_null())
                    .col(ColumnDef::new(ImportDigests::Digest).binary().not_null())
                    .col(ColumnDef::new(ImportDigests::SourceUpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(ImportDigests::Source).col(ImportDigests::SourceId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ImportDigests::Table).to_owned()).await
    }
}

/// Columns of `import_digests`.
#[derive(DeriveIden)]
pub enum ImportDigests {
    Table,
    Source,
    SourceId,
    Digest,
    SourceUpdatedAt,
}
