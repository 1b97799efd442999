//! The write path of the offer: each mutation is one transaction that checks the caller's right,
//! validates its input, applies the change only if the offer is still at the expected version,
//! writes a revision and bumps the catalog version; after the commit the catalog is rebuilt and
//! the change is announced (subscriptions here, Redis for the other instances).

use std::collections::BTreeSet;

use chrono::Utc;
use entities::prelude::*;
use entities::{event_occurrence, media, offer, offer_correlate, offer_theme, route, route_stage};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::{Value, json};

use super::input::{self, OccurrenceInput, OfferInput, invalid};
use crate::auth::Caller;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::events::{Action, OfferChange};
use crate::state::AppState;

fn conflict(current: i32) -> Error {
    Error::Conflict(format!("the offer changed meanwhile: current version is {current}"))
}

async fn load_for_edit(txn: &DatabaseTransaction, caller: &Caller, id: &str) -> Result<offer::Model> {
    caller.require_editing()?;
    let current =
        Offer::find_by_id(id.to_owned()).one(txn).await?.ok_or_else(|| Error::NotFound(format!("no offer {id}")))?;
    if !caller.can_edit_offer(current.owner.as_deref()) {
        return Err(Error::Forbidden("this key may not edit this offer".into()));
    }
    Ok(current)
}

/// Applies `wanted` over `current` if the row is still at `expected`; else `CONFLICT`.
async fn save(
    txn: &DatabaseTransaction,
    current: &offer::Model,
    wanted: offer::Model,
    expected: i32,
    action: &str,
    actor: &str,
) -> Result<offer::Model> {
    if current.version != expected {
        return Err(conflict(current.version));
    }
    let mut next = wanted;
    next.version = expected + 1;
    next.updated_at = Utc::now();
    let mut active = next.clone().into_active_model().reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(next.id.clone());
    // The version in the WHERE clause makes two concurrent writers unable to both win.
    let result = Offer::update_many()
        .set(active)
        .filter(offer::Column::Id.eq(next.id.as_str()))
        .filter(offer::Column::Version.eq(expected))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        let now = Offer::find_by_id(next.id.clone()).one(txn).await?.map_or(expected, |o| o.version);
        return Err(conflict(now));
    }
    revision(txn, &next, action, actor, Some(current)).await?;
    Ok(next)
}

async fn revision<C: ConnectionTrait>(
    db: &C,
    after: &offer::Model,
    action: &str,
    actor: &str,
    before: Option<&offer::Model>,
) -> Result<()> {
    entities::revision::ActiveModel {
        offer_id: Set(after.id.clone()),
        version: Set(after.version),
        action: Set(action.to_owned()),
        actor: Set(actor.to_owned()),
        before: Set(before.map(serde_json::to_value).transpose().map_err(|e| Error::Internal(e.to_string()))?),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Commits, rebuilds the catalog and announces the change.
async fn finish(state: &AppState, txn: DatabaseTransaction, offer: &offer::Model, action: Action) -> Result<()> {
    // Bumping locks the state row until commit: versions are handed out in commit order.
    let version = seed::load::bump_catalog_version(&txn).await?;
    Offer::update_many()
        .col_expr(offer::Column::CatalogVersion, sea_orm::sea_query::Expr::value(version))
        .filter(offer::Column::Id.eq(offer.id.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    // The public snapshot changes only when the offer was or becomes public; a draft's edits
    // leave it as it is (and its caches warm). The version poll catches up on the rest.
    let public =
        (offer.status == "published" && offer.deleted_at.is_none()) || state.catalog.get().by_id(&offer.id).is_some();
    if public {
        state.catalog.reload(&state.db).await?;
    }
    let change = OfferChange {
        id: offer.id.clone(),
        version: offer.version,
        action,
        catalog_version: version,
        at: offer.updated_at,
    };
    state.events.announce(change).await;
    Ok(())
}

fn apply_texts(field: &str, v: &Option<input::TextsInput>, max: usize) -> Result<Option<Value>> {
    v.as_ref().map(|t| input::texts(field, t, max, false)).transpose()
}

/// Validates `input` and applies it over `base` (a new offer or the current one).
fn merge(
    catalog: &Catalog,
    caller: &Caller,
    base: &mut offer::Model,
    input: &OfferInput,
    creating: bool,
) -> Result<Option<Vec<String>>> {
    if let Some(kind) = input.kind {
        base.kind = kind.code().to_owned();
    }
    if let Some(name) = &input.name {
        base.name = input::texts("input.name", name, 200, true)?;
    }
    if let Some(v) = apply_texts("input.shortDescription", &input.short_description, input::short_limit())? {
        base.short_description = Some(v);
    }
    if let Some(v) = apply_texts("input.description", &input.description, input::MAX_TEXT)? {
        base.description = Some(v);
    }
    if let Some(slug) = &input.slug {
        if !seed::slug::is_slug(slug) {
            return Err(invalid("input.slug", "lowercase letters, digits and single hyphens, at most 120 characters"));
        }
        base.slug = slug.clone();
    } else if creating {
        base.slug = seed::slug::slugify(base.name.get("fr").and_then(Value::as_str).unwrap_or(""));
        if base.slug.is_empty() {
            return Err(invalid("input.slug", "give a slug: none can be made from the name"));
        }
    }
    if let Some(classes) = &input.classes {
        base.classes = json!(input::codes("input.classes", classes)?);
    }
    if let Some(labels) = &input.labels {
        base.labels = json!(input::codes("input.labels", labels)?);
    }
    if let Some(p) = &input.geo_precision {
        if !["exact", "approximate", "commune"].contains(&p.as_str()) {
            return Err(invalid("input.geoPrecision", "exact, approximate or commune"));
        }
        base.geo_precision = p.clone();
    }
    if let Some(l) = input.location {
        let (lon, lat) = input::location("input.location", l)?;
        base.lon = lon;
        base.lat = lat;
    }
    if let Some(g) = &input.geometry {
        let geometry = input::geometry("input.geometry", &g.0)?;
        let [w, s, e, n] = seed::geometry::bbox(&geometry).map_err(|e| invalid("input.geometry", e.to_string()))?;
        base.geometry = Some(seed::geometry::to_geojson(&geometry).to_string());
        (base.min_lon, base.min_lat, base.max_lon, base.max_lat) = (w, s, e, n);
    } else if base.geometry.is_none() {
        (base.min_lon, base.min_lat, base.max_lon, base.max_lat) = (base.lon, base.lat, base.lon, base.lat);
    }
    let outside = input.outside_territory.unwrap_or(!base.in_territory && !creating);
    if outside {
        if input.commune.is_some() {
            return Err(invalid("input.commune", "a place outside the territory has no commune of the territory"));
        }
        base.commune_insee = None;
        base.in_territory = false;
    } else {
        let at_point = input::commune_at(catalog, base.lon, base.lat);
        let commune = match &input.commune {
            Some(code) => {
                if catalog.commune(code).is_none() {
                    return Err(invalid("input.commune", format!("{code:?} is not a commune of the territory")));
                }
                if at_point.as_deref() != Some(code.as_str()) {
                    return Err(invalid("input.location", format!("the point is not inside the commune {code}")));
                }
                code.clone()
            }
            None => at_point.ok_or_else(|| {
                invalid(
                    "input.location",
                    "the point is outside the territory: set outsideTerritory for a partner place",
                )
            })?,
        };
        base.commune_insee = Some(commune);
        base.in_territory = true;
    }
    if let Some(a) = &input.address {
        let mut m = serde_json::Map::new();
        if let Some(s) = &a.street {
            m.insert(
                "street".into(),
                json!(
                    input::texts(
                        "input.address.street",
                        &input::TextsInput { fr: Some(s.clone()), ..Default::default() },
                        200,
                        false
                    )?["fr"]
                ),
            );
        }
        if let Some(p) = &a.postal_code {
            if p.len() != 5 || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid("input.address.postalCode", "five digits"));
            }
            m.insert("postalCode".into(), json!(p));
        }
        if let Some(l) = &a.locality {
            m.insert("locality".into(), json!(l.trim()));
        }
        if let Some(c) = &base.commune_insee {
            m.insert("inseeCode".into(), json!(c));
        }
        base.address = Some(Value::Object(m));
    }
    if let Some(c) = &input.contact {
        base.contacts = Some(input::contact("input.contact", c)?);
    }
    if let Some(h) = &input.opening_hours {
        base.opening_hours =
            if h.trim().is_empty() { None } else { Some(input::opening_hours("input.openingHours", h)?) };
    }
    if let Some(t) = &input.opening_hours_text {
        base.opening_hours_text = Some(
            input::texts(
                "input.openingHoursText",
                &input::TextsInput { fr: Some(t.clone()), ..Default::default() },
                2000,
                false,
            )?["fr"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    if let Some(p) = &input.prices {
        if !p.0.is_array() || p.0.to_string().len() > 10_000 {
            return Err(invalid("input.prices", "a JSON array of at most 10,000 characters"));
        }
        base.prices = Some(p.0.clone());
    }
    if let Some(a) = &input.accessibility {
        if let Some(w) = &a.wheelchair
            && !["yes", "limited", "no"].contains(&w.as_str())
        {
            return Err(invalid("input.accessibility.wheelchair", "yes, limited or no"));
        }
        let th = a.tourisme_handicap.clone().unwrap_or_default();
        for (i, l) in th.iter().enumerate() {
            if !["motor", "visual", "hearing", "mental"].contains(&l.as_str()) {
                return Err(invalid(
                    &format!("input.accessibility.tourismeHandicap[{i}]"),
                    "motor, visual, hearing or mental",
                ));
            }
        }
        base.accessibility = Some(json!({ "wheelchair": a.wheelchair, "tourismeHandicap": th }));
    }
    if let Some(c) = &input.capacity {
        base.capacity = Some(input::capacity("input.capacity", c)?);
    }
    if let Some(owner) = &input.owner {
        match caller {
            Caller::Key { role: crate::auth::Role::Admin | crate::auth::Role::Editor, .. } => {
                base.owner = if owner.trim().is_empty() { None } else { Some(owner.trim().to_owned()) }
            }
            _ => return Err(Error::Forbidden("only editors may change who owns an offer".into())),
        }
    }
    let themes = match &input.themes {
        Some(themes) => {
            for (i, t) in themes.iter().enumerate() {
                if catalog.theme(t).is_none() {
                    return Err(invalid(&format!("input.themes[{i}]"), format!("unknown theme {t:?}")));
                }
            }
            Some(themes.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect())
        }
        None => None,
    };
    Ok(themes)
}

async fn slug_is_free(txn: &DatabaseTransaction, slug: &str, id: &str) -> Result<()> {
    let taken = Offer::find().filter(offer::Column::Slug.eq(slug)).filter(offer::Column::Id.ne(id)).one(txn).await?;
    if taken.is_some() {
        return Err(invalid("input.slug", format!("{slug:?} is already used by another offer")));
    }
    Ok(())
}

async fn set_themes(txn: &DatabaseTransaction, id: &str, themes: Vec<String>) -> Result<()> {
    OfferTheme::delete_many().filter(offer_theme::Column::OfferId.eq(id)).exec(txn).await?;
    for t in themes {
        offer_theme::ActiveModel { offer_id: Set(id.to_owned()), theme_code: Set(t) }.insert(txn).await?;
    }
    Ok(())
}

/// Creates a draft offer.
pub async fn create(state: &AppState, caller: &Caller, input: OfferInput) -> Result<offer::Model> {
    caller.require_editing()?;
    let catalog = state.catalog.get();
    if input.kind.is_none() {
        return Err(invalid("input.kind", "required"));
    }
    if input.name.is_none() {
        return Err(invalid("input.name.fr", "required"));
    }
    if input.location.is_none() {
        return Err(invalid("input.location", "required"));
    }
    let now = Utc::now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut o = offer::Model {
        id: id.clone(),
        slug: String::new(),
        kind: String::new(),
        classes: json!([]),
        is_totem: false,
        name: json!({}),
        short_description: None,
        description: None,
        lon: 0.0,
        lat: 0.0,
        geo_precision: "exact".into(),
        geometry: None,
        min_lon: 0.0,
        min_lat: 0.0,
        max_lon: 0.0,
        max_lat: 0.0,
        commune_insee: None,
        in_territory: true,
        address: None,
        contacts: None,
        opening_hours: None,
        opening_hours_text: None,
        prices: None,
        accessibility: None,
        labels: json!([]),
        capacity: None,
        source: "porte-du-hainaut-api".into(),
        source_id: format!("offer:{id}"),
        source_licence: "Licence Ouverte / Etalab 2.0".into(),
        source_attribution: "La Porte du Hainaut".into(),
        source_url: None,
        source_updated_at: None,
        owner: match caller {
            Caller::Key { owner, .. } => owner.clone(),
            Caller::Anonymous => None,
        },
        status: "draft".into(),
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        catalog_version: 0,
    };
    let themes = merge(&catalog, caller, &mut o, &input, true)?;
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    // A slug made from the name may already be taken (the same event in two towns): it then gets
    // the start of the id. A slug given explicitly must be free.
    if input.slug.is_none() && slug_is_free(&txn, &o.slug, &id).await.is_err() {
        o.slug = format!("{}-{}", o.slug, &id[..8]);
    }
    slug_is_free(&txn, &o.slug, &id).await?;
    o.clone().into_active_model().insert(&txn).await?;
    set_themes(&txn, &id, themes.unwrap_or_default()).await?;
    revision(&txn, &o, "create", &caller.actor(), None).await?;
    finish(state, txn, &o, Action::Created).await?;
    Ok(o)
}

/// Changes the fields given.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    input: OfferInput,
) -> Result<offer::Model> {
    let catalog = state.catalog.get();
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    if current.deleted_at.is_some() {
        return Err(Error::NotFound(format!("offer {id} is deleted: restore it first")));
    }
    let mut wanted = current.clone();
    let themes = merge(&catalog, caller, &mut wanted, &input, false)?;
    slug_is_free(&txn, &wanted.slug, id).await?;
    let saved = save(&txn, &current, wanted, expected, "update", &caller.actor()).await?;
    if let Some(t) = themes {
        set_themes(&txn, id, t).await?;
    }
    finish(state, txn, &saved, Action::Updated).await?;
    Ok(saved)
}

/// Changes the status (publish, unpublish, archive) or the deletion mark.
pub async fn set_state(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    action: Action,
) -> Result<offer::Model> {
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    let mut wanted = current.clone();
    let code = match action {
        Action::Published => {
            wanted.status = "published".into();
            "publish"
        }
        Action::Unpublished => {
            wanted.status = "draft".into();
            "unpublish"
        }
        Action::Archived => {
            wanted.status = "archived".into();
            "archive"
        }
        Action::Deleted => {
            if current.deleted_at.is_some() {
                return Err(Error::Conflict(format!(
                    "the offer is already deleted: current version is {}",
                    current.version
                )));
            }
            wanted.deleted_at = Some(Utc::now());
            "delete"
        }
        Action::Restored => {
            if current.deleted_at.is_none() {
                return Err(Error::Conflict(format!(
                    "the offer is not deleted: current version is {}",
                    current.version
                )));
            }
            wanted.deleted_at = None;
            "restore"
        }
        Action::Created | Action::Updated => return Err(Error::Internal("not a state change".into())),
    };
    if action != Action::Deleted && action != Action::Restored && current.deleted_at.is_some() {
        return Err(Error::NotFound(format!("offer {id} is deleted: restore it first")));
    }
    let saved = save(&txn, &current, wanted, expected, code, &caller.actor()).await?;
    finish(state, txn, &saved, action).await?;
    Ok(saved)
}

/// Replaces the occurrences of an event.
pub async fn set_occurrences(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    list: Vec<OccurrenceInput>,
) -> Result<offer::Model> {
    if list.len() > 1000 {
        return Err(invalid("occurrences", "at most 1,000 occurrences"));
    }
    for (i, o) in list.iter().enumerate() {
        if o.end < o.start {
            return Err(invalid(&format!("occurrences[{i}].end"), "the end is before the start"));
        }
    }
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    let saved = save(&txn, &current, current.clone(), expected, "update", &caller.actor()).await?;
    EventOccurrence::delete_many().filter(event_occurrence::Column::OfferId.eq(id)).exec(&txn).await?;
    let mut seen = BTreeSet::new();
    for o in list.into_iter().filter(|o| seen.insert(o.start)) {
        event_occurrence::ActiveModel {
            offer_id: Set(id.to_owned()),
            starts_at: Set(o.start),
            ends_at: Set(o.end),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    finish(state, txn, &saved, Action::Updated).await?;
    Ok(saved)
}

/// Replaces the media of an offer.
pub async fn set_media(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    list: Vec<input::MediaInput>,
) -> Result<offer::Model> {
    if list.len() > 100 {
        return Err(invalid("media", "at most 100 items"));
    }
    let mut rows = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let field = format!("media[{i}]");
        if !["image", "video", "audio", "document"].contains(&m.kind.as_str()) {
            return Err(invalid(&format!("{field}.kind"), "image, video, audio or document"));
        }
        let url = input::url(&format!("{field}.url"), &m.url)?;
        if m.licence.trim().is_empty() || m.licence.len() > 200 {
            return Err(invalid(&format!("{field}.licence"), "required, at most 200 characters"));
        }
        let title = m.title.as_ref().map(|t| input::texts(&format!("{field}.title"), t, 300, false)).transpose()?;
        rows.push(media::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            offer_id: Set(id.to_owned()),
            position: Set(i as i32 + 1),
            kind: Set(m.kind.clone()),
            url: Set(url),
            title: Set(title),
            licence: Set(Some(m.licence.trim().to_owned())),
            credit: Set(m.credit.as_ref().map(|c| c.trim().to_owned())),
            mime_type: Set(m.mime_type.clone()),
        });
    }
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    let saved = save(&txn, &current, current.clone(), expected, "update", &caller.actor()).await?;
    Media::delete_many().filter(media::Column::OfferId.eq(id)).exec(&txn).await?;
    for r in rows {
        r.insert(&txn).await?;
    }
    finish(state, txn, &saved, Action::Updated).await?;
    Ok(saved)
}

/// Replaces the corrélats of a totem (editors only).
pub async fn set_correlates(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    offers: Vec<String>,
) -> Result<offer::Model> {
    caller.require_editor()?;
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    if !current.is_totem {
        return Err(invalid("totemId", "only a totem has corrélats"));
    }
    for (i, o) in offers.iter().enumerate() {
        if o == id || Offer::find_by_id(o.clone()).one(&txn).await?.is_none() {
            return Err(invalid(&format!("offerIds[{i}]"), format!("no offer {o} to link")));
        }
    }
    let saved = save(&txn, &current, current.clone(), expected, "update", &caller.actor()).await?;
    OfferCorrelate::delete_many().filter(offer_correlate::Column::TotemId.eq(id)).exec(&txn).await?;
    let mut seen = BTreeSet::new();
    for (i, o) in offers.into_iter().filter(|o| seen.insert(o.clone())).enumerate() {
        offer_correlate::ActiveModel { totem_id: Set(id.to_owned()), offer_id: Set(o), position: Set(i as i32 + 1) }
            .insert(&txn)
            .await?;
    }
    finish(state, txn, &saved, Action::Updated).await?;
    Ok(saved)
}

/// Replaces the stages of a route; a schematic route's line follows them.
pub async fn set_route_stages(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    offers: Vec<String>,
    practices: Option<Vec<String>>,
) -> Result<offer::Model> {
    if offers.len() < 2 || offers.len() > 200 {
        return Err(invalid("offerIds", "a route has 2 to 200 stages"));
    }
    let _writer = state.write_lock.lock().await;
    let txn = state.db.begin().await?;
    let current = load_for_edit(&txn, caller, id).await?;
    if current.kind != "route" {
        return Err(invalid("routeId", "only an offer of kind route has stages"));
    }
    let mut points = Vec::new();
    for (i, o) in offers.iter().enumerate() {
        let stage = Offer::find_by_id(o.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| invalid(&format!("offerIds[{i}]"), format!("no offer {o}")))?;
        points.push((stage.lon, stage.lat));
    }
    let existing = Route::find_by_id(id.to_owned()).one(&txn).await?;
    let line_precision = existing.as_ref().map_or_else(|| "schematic".to_owned(), |r| r.line_precision.clone());
    let mut wanted = current.clone();
    let line = geo::LineString::from(points.clone());
    let length: f64 = {
        use geo::{Distance, Haversine};
        line.lines().map(|l| Haversine.distance(geo::Point::from(l.start), geo::Point::from(l.end))).sum()
    };
    if line_precision == "schematic" {
        let g = geo::Geometry::LineString(line);
        let [w, s, e, n] = seed::geometry::bbox(&g).map_err(|e| Error::Internal(e.to_string()))?;
        wanted.geometry = Some(seed::geometry::to_geojson(&g).to_string());
        (wanted.min_lon, wanted.min_lat, wanted.max_lon, wanted.max_lat) = (w, s, e, n);
    }
    let saved = save(&txn, &current, wanted, expected, "update", &caller.actor()).await?;
    let practices = json!(practices.map(|p| input::codes("practices", &p)).transpose()?.unwrap_or_else(|| {
        existing
            .as_ref()
            .and_then(|r| {
                r.practices.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            })
            .unwrap_or_default()
    }));
    let details = route::ActiveModel {
        offer_id: Set(id.to_owned()),
        length_meters: Set((length * 10.0).round() / 10.0),
        practices: Set(practices),
        difficulty: Set(existing.as_ref().and_then(|r| r.difficulty.clone())),
        line_precision: Set(line_precision),
    };
    if existing.is_some() {
        details.update(&txn).await?;
    } else {
        details.insert(&txn).await?;
    }
    RouteStage::delete_many().filter(route_stage::Column::RouteId.eq(id)).exec(&txn).await?;
    for (i, o) in offers.into_iter().enumerate() {
        route_stage::ActiveModel { route_id: Set(id.to_owned()), position: Set(i as i32 + 1), offer_id: Set(o) }
            .insert(&txn)
            .await?;
    }
    finish(state, txn, &saved, Action::Updated).await?;
    Ok(saved)
}
