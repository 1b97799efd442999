//! QR signage: `GET /q/{code}` resolves a code (a browser is redirected to the target's page on
//! the website, a JSON client gets the target), `GET /q/{code}.svg|.png` draws it and
//! `GET /q/{code}/sign.svg` gives a print-ready sign. Each resolution is counted per code and day.

pub mod codes;
pub mod graphql;
pub mod scans;

use crate::extract::Query;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

use entities::prelude::OfferCorrelate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::json;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lang::Lang;
use crate::state::AppState;
use codes::{Target, escape};

/// `?size=` of the images.
#[derive(Debug, Deserialize)]
pub struct SizeParams {
    /// Width in pixels, 64 to 2048 (default 512).
    pub size: Option<u32>,
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(crate::web::page("fr", title, &format!("<h1>{}</h1>{body}", escape(title))))).into_response()
}

async fn find(state: &AppState, code: &str) -> Result<Arc<entities::qr_code::Model>> {
    if !codes::is_code(code) {
        return Err(Error::NotFound(format!("no QR code {code:?}")));
    }
    state.qr_codes.find(&state.db, code).await?.ok_or_else(|| Error::NotFound(format!("no QR code {code:?}")))
}

/// The public page of a target on the website, built only from checked parts: the redirect can
/// never leave `WEBSITE_URL`.
fn target_page(state: &AppState, catalog: &Catalog, target: &Target) -> Option<(String, serde_json::Value)> {
    let website = state.config.website_url();
    match target {
        Target::Offer(id) | Target::Route(id) => {
            let o = catalog.by_id(id)?;
            let url = format!("{website}/offres/{}", o.slug);
            let name = o.name.get(Lang::Fr).map(|(n, _)| n.to_owned()).unwrap_or_default();
            Some((
                url.clone(),
                json!({ "kind": if o.route.is_some() { "route" } else { "offer" }, "id": o.id_string(), "slug": &*o.slug, "name": name, "url": url }),
            ))
        }
        Target::Theme(code) => {
            let t = catalog.theme(code)?;
            let url = format!("{website}/themes/{}", t.code);
            let name = t.name.get(Lang::Fr).map(|(n, _)| n.to_owned()).unwrap_or_default();
            Some((url.clone(), json!({ "kind": "theme", "id": t.code, "name": name, "url": url })))
        }
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// `GET /q/{code}` and its images (`.svg`, `.png`).
pub async fn resolve(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(p): Query<SizeParams>,
    client: Option<axum::Extension<crate::auth::ClientAddress>>,
    headers: HeaderMap,
) -> Response {
    if let Some(code) = file.strip_suffix(".svg") {
        return image(&state, code, p, &headers, false).await.unwrap_or_else(IntoResponse::into_response);
    }
    if let Some(code) = file.strip_suffix(".png") {
        return image(&state, code, p, &headers, true).await.unwrap_or_else(IntoResponse::into_response);
    }
    let json = wants_json(&headers);
    let row = match find(&state, &file).await {
        Ok(row) => row,
        Err(Error::NotFound(_)) if !json => {
            return page(
                StatusCode::NOT_FOUND,
                "Code inconnu",
                "<p>Ce code ne correspond à aucun lieu de La Porte du Hainaut.</p>",
            );
        }
        Err(e) => return e.into_response(),
    };
    state.scans.record(&row.code, client.map(|c| c.0.0)).await;
    let catalog = state.catalog.get();
    let target = Target::from_row(&row);
    match target_page(&state, &catalog, &target) {
        Some((url, body)) if json => Json(json!({ "code": row.code, "target": body, "redirect": url })).into_response(),
        Some((url, _)) => match HeaderValue::from_str(&url) {
            Ok(location) => {
                let mut r = StatusCode::FOUND.into_response();
                r.headers_mut().insert(header::LOCATION, location);
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(_) => Error::Internal(format!("unusable redirect for {}", row.code)).into_response(),
        },
        None => gone(&state, &catalog, &row, &target, json).await,
    }
}

/// The target is no longer public: say so, and offer its totem.
async fn gone(
    state: &AppState,
    catalog: &Catalog,
    row: &entities::qr_code::Model,
    target: &Target,
    json: bool,
) -> Response {
    let totem = match target {
        Target::Offer(id) | Target::Route(id) => OfferCorrelate::find()
            .filter(entities::offer_correlate::Column::OfferId.eq(id.as_str()))
            .all(&state.db)
            .await
            .ok()
            .and_then(|links| links.into_iter().find_map(|l| catalog.by_id(&l.totem_id))),
        Target::Theme(_) => None,
    };
    let website = state.config.website_url();
    let totem_link = totem.map(|t| {
        (t.name.get(Lang::Fr).map(|(n, _)| n.to_owned()).unwrap_or_default(), format!("{website}/offres/{}", t.slug))
    });
    if json {
        let body = json!({
            "code": row.code,
            "error": { "code": "GONE", "message": "this place is no longer offered" },
            "totem": totem_link.as_ref().map(|(name, url)| json!({ "name": name, "url": url })),
        });
        return (StatusCode::GONE, Json(body)).into_response();
    }
    let suggestion = match &totem_link {
        Some((name, url)) => format!("<p>Découvrez plutôt <a href=\"{}\">{}</a>.</p>", escape(url), escape(name)),
        None => format!("<p><a href=\"{}\">Découvrir La Porte du Hainaut</a></p>", escape(&website)),
    };
    page(
        StatusCode::GONE,
        "Ce lieu n'est plus proposé",
        &format!("<p>Le lieu de ce panneau a été archivé.</p>{suggestion}"),
    )
}

fn size(p: &SizeParams) -> Result<u32> {
    let s = p.size.unwrap_or(512);
    if !(64..=2048).contains(&s) {
        return Err(Error::BadUserInput("size must be between 64 and 2048 pixels".into()));
    }
    Ok(s)
}

async fn image(state: &AppState, code: &str, p: SizeParams, headers: &HeaderMap, png: bool) -> Result<Response> {
    let size = size(&p)?;
    let row = find(state, code).await?;
    let url = format!("{}/q/{}", state.config.base_url(headers), row.code);
    let mut r = if png {
        let bytes = tokio::task::spawn_blocking(move || codes::png(&url, size))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/svg+xml")], codes::svg(&url, size)?).into_response()
    };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(r)
}

/// `GET /q/{code}/sign.svg`: a print-ready sign.
pub async fn sign(State(state): State<AppState>, Path(code): Path<String>, headers: HeaderMap) -> Result<Response> {
    let row = find(&state, &code).await?;
    let catalog = state.catalog.get();
    let target = Target::from_row(&row);
    let (name, theme, color) = match &target {
        Target::Offer(id) | Target::Route(id) => {
            let o = catalog
                .by_id(id)
                .ok_or_else(|| Error::NotFound("the place of this code is no longer offered".into()))?;
            let theme = o.themes.first().and_then(|t| catalog.theme(t));
            (
                o.name.get(Lang::Fr).map(|(n, _)| n.to_owned()).unwrap_or_default(),
                theme.and_then(|t| t.name.get(Lang::Fr).map(|(n, _)| n.to_owned())).unwrap_or_default(),
                theme.map(|t| t.color.clone()).unwrap_or_default(),
            )
        }
        Target::Theme(code) => {
            let t = catalog.theme(code).ok_or_else(|| Error::NotFound(format!("no theme {code}")))?;
            let name = t.name.get(Lang::Fr).map(|(n, _)| n.to_owned()).unwrap_or_default();
            (name.clone(), name, t.color.clone())
        }
    };
    let url = format!("{}/q/{}", state.config.base_url(&headers), row.code);
    let svg = codes::sign(&url, &name, &theme, &color)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// Gives every totem and corrélat without a code one (`api qr generate`); idempotent.
pub async fn generate(db: &sea_orm::DatabaseConnection) -> Result<(usize, usize)> {
    use entities::prelude::Offer;
    let totems = Offer::find().filter(entities::offer::Column::IsTotem.eq(true)).all(db).await?;
    let links = OfferCorrelate::find().all(db).await?;
    let mut ids: Vec<String> = totems.into_iter().map(|t| t.id).collect();
    ids.extend(links.into_iter().map(|l| l.offer_id));
    ids.sort();
    ids.dedup();
    let (mut created, mut kept) = (0, 0);
    for id in ids {
        let Some(o) = Offer::find_by_id(id.clone()).one(db).await? else { continue };
        let target = if o.kind == entities::vocab::OfferKind::Route { Target::Route(id) } else { Target::Offer(id) };
        if codes::of_target(db, &target).await?.is_empty() {
            codes::create(db, &target).await?;
            created += 1;
        } else {
            kept += 1;
        }
    }
    Ok((created, kept))
}
