//! Pictures, videos and documents of an offer, each with its own licence and credit.

use sea_orm::entity::prelude::*;

use crate::values::Texts;
use crate::vocab::MediaKind;

/// One media item.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "media")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The offer.
    pub offer_id: String,
    /// Display order.
    pub position: i32,
    /// Kind.
    pub kind: MediaKind,
    /// Address of the file.
    pub url: String,
    /// Multilingual title.
    pub title: Option<Texts>,
    /// Licence of the file (never assumed to be the data licence).
    pub licence: Option<String>,
    /// Credit (author, rights holder).
    pub credit: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
}

/// Relations of a media item.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
