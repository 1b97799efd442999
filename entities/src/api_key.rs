//! API keys: only a hash of the token is stored.

use sea_orm::entity::prelude::*;

/// One API key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Human name of the key.
    pub name: String,
    /// admin, editor, provider or partner.
    pub role: String,
    /// Organisation the key acts for (providers only edit its offers).
    pub owner: Option<String>,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Requests per minute allowed, when it differs from the role's default.
    pub quota_per_minute: Option<i32>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Revocation time.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Relations of a key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
