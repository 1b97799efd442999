//! Creating, listing and revoking API keys (`api keys …`). The token is shown once; only its
//! SHA-256 is stored.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::Role;
use crate::error::{Error, Result};
use entities::api_key;

/// Prefix of every token, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "phk_";

/// SHA-256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token (244 random bits from the OS generator, through UUID v4).
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// A created key and its token (shown once).
#[derive(Debug)]
pub struct CreatedKey {
    /// The stored key.
    pub key: api_key::Model,
    /// The token to give to its holder.
    pub token: String,
}

/// Creates a key.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    role: Role,
    owner: Option<&str>,
    quota: Option<u32>,
) -> Result<CreatedKey> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::BadUserInput("--name must have 1 to 100 characters".into()));
    }
    if role == Role::Provider && owner.is_none_or(|o| o.trim().is_empty()) {
        return Err(Error::BadUserInput("a provider key needs --owner ORG".into()));
    }
    let token = new_token();
    let key = api_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        name: Set(name.to_owned()),
        role: Set(role.code().to_owned()),
        owner: Set(owner.map(|o| o.trim().to_owned())),
        token_hash: Set(hash_token(&token)),
        quota_per_minute: Set(quota.and_then(|q| i32::try_from(q).ok())),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(CreatedKey { key, token })
}

/// Every key, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_key::Model>> {
    Ok(entities::prelude::ApiKey::find().order_by_asc(api_key::Column::CreatedAt).all(db).await?)
}

/// Revokes a key by id or name.
pub async fn revoke(db: &DatabaseConnection, id_or_name: &str) -> Result<api_key::Model> {
    let found = entities::prelude::ApiKey::find()
        .filter(Condition::any().add(api_key::Column::Id.eq(id_or_name)).add(api_key::Column::Name.eq(id_or_name)))
        .all(db)
        .await?;
    let key = match found.len() {
        0 => return Err(Error::NotFound(format!("no key {id_or_name:?}"))),
        1 => found.into_iter().next().ok_or_else(|| Error::Internal("vanished key".into()))?,
        _ => return Err(Error::BadUserInput(format!("several keys are named {id_or_name:?}: give the id"))),
    };
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now()));
    Ok(active.update(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
