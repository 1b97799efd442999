//! QR codes in GraphQL: the `QrCode` type, `qrCodes` on offers, routes and themes, and the
//! `createQrCode` mutation for editors.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Union};
use chrono::{DateTime, Utc};
use entities::prelude::QrScan;
use entities::qr_scan;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::codes::{self, Target};
use crate::catalog::Catalog;
use crate::error::Error;
use crate::graphql::context::caller;
use crate::lang::Lang;
use crate::offers::types::{OfferNode, ThemeNode};
use crate::state::{AppState, Urls};

/// What a QR code points at.
#[derive(Union)]
pub enum QrTarget {
    /// An offer or a route.
    Offer(OfferNode),
    /// A theme.
    Theme(ThemeNode),
}

/// A QR code of the signage.
pub struct QrCodeNode {
    row: entities::qr_code::Model,
    catalog: Arc<Catalog>,
    lang: Lang,
}

#[Object(name = "QrCode")]
impl QrCodeNode {
    /// The short code.
    async fn code(&self) -> &str {
        &self.row.code
    }
    /// What the sign encodes: `{PUBLIC_URL}/q/{code}`.
    async fn url(&self, ctx: &Context<'_>) -> String {
        format!("{}/q/{}", ctx.data_opt::<Urls>().map_or("", |u| u.public.as_str()), self.row.code)
    }
    /// The QR image (SVG; `.png` also exists, both take `?size=`).
    async fn image_url(&self, ctx: &Context<'_>) -> String {
        format!("{}/q/{}.svg", ctx.data_opt::<Urls>().map_or("", |u| u.public.as_str()), self.row.code)
    }
    /// A print-ready sign.
    async fn sign_url(&self, ctx: &Context<'_>) -> String {
        format!("{}/q/{}/sign.svg", ctx.data_opt::<Urls>().map_or("", |u| u.public.as_str()), self.row.code)
    }
    /// The target, while it is public.
    async fn target(&self) -> Option<QrTarget> {
        match Target::from_row(&self.row) {
            Target::Offer(id) | Target::Route(id) => {
                self.catalog.by_id(&id).map(|r| QrTarget::Offer(OfferNode::new(&self.catalog, r, self.lang)))
            }
            Target::Theme(code) => self
                .catalog
                .themes
                .iter()
                .position(|t| t.code == code)
                .map(|index| QrTarget::Theme(ThemeNode { catalog: self.catalog.clone(), index, lang: self.lang })),
        }
    }
    /// Resolutions counted so far, a client counted once per code in half an hour (flushed to the
    /// database every few seconds). Editors only: null with a `FORBIDDEN` error for others.
    async fn scans(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        caller(ctx).require_editor().map_err(Error::into_graphql)?;
        let state = ctx.data::<AppState>()?;
        let rows = QrScan::find()
            .filter(qr_scan::Column::Code.eq(self.row.code.as_str()))
            .all(&state.db)
            .await
            .map_err(|e| Error::from(e).into_graphql())?;
        Ok(Some(rows.iter().map(|r| r.count).sum()))
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// The codes of a target, for the `qrCodes` fields.
pub async fn codes_of(
    ctx: &Context<'_>,
    catalog: &Arc<Catalog>,
    target: Target,
    lang: Lang,
) -> async_graphql::Result<Vec<QrCodeNode>> {
    let state = ctx.data::<AppState>()?;
    let rows = codes::of_target(&state.db, &target).await.map_err(Error::into_graphql)?;
    Ok(rows.into_iter().map(|row| QrCodeNode { row, catalog: catalog.clone(), lang }).collect())
}

/// The QR mutations.
#[derive(Default)]
pub struct QrMutation;

#[Object]
impl QrMutation {
    /// Gives an offer, a route (by id or slug) or a theme (by code) a new QR code (editors).
    async fn create_qr_code(&self, ctx: &Context<'_>, target_id: ID) -> async_graphql::Result<QrCodeNode> {
        caller(ctx).require_editor().map_err(Error::into_graphql)?;
        let state = ctx.data::<AppState>()?;
        let catalog = state.catalog.get();
        let target = if let Some(o) = catalog.find(&target_id) {
            if o.route.is_some() { Target::Route(o.id_string()) } else { Target::Offer(o.id_string()) }
        } else if catalog.theme(&target_id).is_some() {
            Target::Theme(target_id.0.clone())
        } else {
            return Err(
                Error::NotFound(format!("no published offer, route or theme {:?}", target_id.as_str())).into_graphql()
            );
        };
        let row = codes::create(&state.db, &target).await.map_err(Error::into_graphql)?;
        Ok(QrCodeNode { row, catalog, lang: crate::graphql::context::lang(ctx, None) })
    }
}
