//! The mutations' side of the one write path: each checks the caller's right, turns its input
//! into the model's values, and makes its change through an `entities::write::Writer` (one
//! transaction, one revision, the next catalog version). After the commit this instance applies
//! the change to its catalog and announces it to the others; whatever happens then, the answer
//! says the change was saved.

use std::sync::Arc;

use chrono::Utc;
use entities::offer;
use entities::vocab::{LinePrecision, OfferStatus, RevisionAction};
use entities::write::{Committed, SlugRule, Writer};
use geo::{Distance, Haversine};

use super::input::{self, OccurrenceInput, OfferInput};
use super::types::OfferNode;
use crate::auth::Caller;
use crate::catalog::records::{Children, Records};
use crate::catalog::{Catalog, sync};
use crate::error::{Error, Result};
use crate::lang::Lang;
use crate::state::AppState;

/// Whether a caller may read an offer: everyone a public one, those who may edit it any other.
fn readable(caller: &Caller, o: &offer::Model) -> bool {
    o.is_public() || caller.can_edit_offer(o.owner.as_deref())
}

/// The offer a caller is about to change: `NOT_FOUND` when it does not exist or the caller may
/// not even read it (the two answer the same), `FORBIDDEN` when it may read but not edit it.
async fn for_edit(w: &Writer, caller: &Caller, id: &str) -> Result<offer::Model> {
    caller.require_editing()?;
    let not_found = || Error::NotFound(format!("no offer {id}"));
    let current = w.find(id).await?.ok_or_else(not_found)?;
    if !caller.can_edit_offer(current.owner.as_deref()) {
        return Err(if readable(caller, &current) {
            Error::Forbidden("this key may not edit this offer".into())
        } else {
            not_found()
        });
    }
    Ok(current)
}

/// Other offers named by a change (stages, corrélats): each must exist and be readable by the
/// caller; one that does not exist and one the caller may not read answer the same.
async fn linked(w: &Writer, caller: &Caller, field: &str, ids: &[String]) -> Result<Vec<offer::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match w.find(id).await? {
            Some(o) if readable(caller, &o) => out.push(o),
            _ => return Err(input::invalid_link(&format!("{field}[{i}]"), id)),
        }
    }
    Ok(out)
}

/// After a commit: this instance catches up (applying the change to its catalog and telling its
/// subscribers) and the others are told. Failures are logged: the change is saved either way.
async fn after_commit(state: &AppState, committed: Option<Committed>) {
    let Some(c) = committed else { return };
    if let Err(e) = state.catalog.catch_up_to(state.lane.db(), c.version).await {
        tracing::warn!(error = %e.public_message(), version = c.version, "catalog not caught up after a write; the poll will");
    }
    // Told in the background: the other instances need not hold up this answer (and their
    // poll catches up if the announcement is lost).
    let events = state.events.clone();
    tokio::spawn(async move { events.announce(c.version).await });
}

/// The offer as its editor sees it after a change: from the catalog when public, else from the
/// database, else (the database failing right after the commit) from the row written.
pub async fn answer(state: &AppState, saved: offer::Model, lang: Lang) -> Result<OfferNode> {
    let catalog = state.catalog.get();
    if let Some(r) = catalog.by_id(&saved.id)
        && r.version == saved.version
    {
        return Ok(OfferNode::new(&catalog, r, lang));
    }
    let record = match sync::load_one(state.lane.db(), &saved.id).await {
        Ok(Some(r)) => r,
        // Written rows always convert: their id is a UUID and their geometry was checked.
        _ => Records::default().convert(saved, Children::default())?,
    };
    Ok(OfferNode::new(&catalog, &Arc::new(record), lang))
}

/// An offer the caller may edit, whatever its status (`offer(id | slug)` for editors).
pub async fn editable(
    state: &AppState,
    caller: &Caller,
    id: Option<&str>,
    slug: Option<&str>,
    lang: Lang,
) -> Result<Option<OfferNode>> {
    use entities::prelude::Offer;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = match (id, slug) {
        (Some(id), _) => Offer::find_by_id(id.to_owned()).one(&state.db).await?,
        (_, Some(slug)) => Offer::find().filter(offer::Column::Slug.eq(slug)).one(&state.db).await?,
        _ => None,
    };
    match row {
        Some(row) if caller.can_edit_offer(row.owner.as_deref()) => {
            let Some(record) = sync::load_one(&state.db, &row.id).await? else { return Ok(None) };
            Ok(Some(OfferNode::new(&state.catalog.get(), &Arc::new(record), lang)))
        }
        _ => Ok(None),
    }
}

/// Creates a draft offer.
pub async fn create(state: &AppState, caller: &Caller, input: OfferInput) -> Result<offer::Model> {
    caller.require_editing()?;
    let catalog: Arc<Catalog> = state.catalog.get();
    if input.kind.is_none() {
        return Err(input::required("input.kind"));
    }
    if input.name.is_none() {
        return Err(input::required("input.name.fr"));
    }
    if input.location.is_none() {
        return Err(input::required("input.location"));
    }
    if input.owner.is_some() && !matches!(caller.role(), Some(crate::auth::Role::Admin | crate::auth::Role::Editor)) {
        return Err(Error::Forbidden("only editors may change who owns an offer".into()));
    }
    let now = Utc::now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut o = offer::Model {
        source: "porte-du-hainaut-api".into(),
        source_id: format!("offer:{id}"),
        source_licence: "Licence Ouverte / Etalab 2.0".into(),
        source_attribution: "La Porte du Hainaut".into(),
        owner: match caller {
            Caller::Key { owner, .. } => owner.clone(),
            Caller::Anonymous => None,
        },
        status: OfferStatus::Draft,
        created_at: now,
        updated_at: now,
        in_territory: true,
        geo_precision: entities::vocab::GeoPrecision::Exact,
        ..empty_model(&id)
    };
    input::apply(&catalog, &mut o, &input, true)?;
    if let Some(owner) = &input.owner {
        o.owner = Some(owner.trim().to_owned()).filter(|s| !s.is_empty());
    }
    let themes = input.themes.as_deref().map(|t| input::themes(&catalog, "input.themes", t)).transpose()?;
    let rule = if input.slug.is_some() { SlugRule::Given } else { SlugRule::FromName };
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "input.").await?;
    let saved = w.create(o, rule, RevisionAction::Create).await?;
    w.set_themes(&saved.id, &themes.unwrap_or_default()).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
    Ok(saved)
}

fn empty_model(id: &str) -> offer::Model {
    let now = Utc::now();
    offer::Model {
        id: id.to_owned(),
        slug: String::new(),
        kind: entities::vocab::OfferKind::Site,
        classes: Default::default(),
        is_totem: false,
        name: Default::default(),
        short_description: None,
        description: None,
        lon: 0.0,
        lat: 0.0,
        geo_precision: entities::vocab::GeoPrecision::Exact,
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
        labels: Default::default(),
        capacity: None,
        source: String::new(),
        source_id: String::new(),
        source_licence: String::new(),
        source_attribution: String::new(),
        source_url: None,
        source_updated_at: None,
        owner: None,
        status: OfferStatus::Draft,
        version: 1,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        catalog_version: 0,
        published_once: false,
        classification: None,
    }
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
    if input.owner.is_some() && !matches!(caller.role(), Some(crate::auth::Role::Admin | crate::auth::Role::Editor)) {
        caller.require_editing()?;
        return Err(Error::Forbidden("only editors may change who owns an offer".into()));
    }
    let themes = input.themes.as_deref().map(|t| input::themes(&catalog, "input.themes", t)).transpose()?;
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "input.").await?;
    let current = for_edit(&w, caller, id).await?;
    if current.deleted_at.is_some() {
        return Err(Error::NotFound(format!("offer {id} is deleted: restore it first")));
    }
    let mut wanted = current.clone();
    input::apply(&catalog, &mut wanted, &input, false)?;
    if let Some(owner) = &input.owner {
        wanted.owner = Some(owner.trim().to_owned()).filter(|s| !s.is_empty());
    }
    let saved = w.update(&current, wanted, expected, RevisionAction::Update).await?;
    if let Some(t) = themes {
        w.set_themes(id, &t).await?;
    }
    let committed = w.commit().await?;
    after_commit(state, committed).await;
    Ok(saved)
}

/// What a change of state does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// Made public.
    Publish,
    /// Back to draft.
    Unpublish,
    /// Archived.
    Archive,
    /// Soft-deleted.
    Delete,
    /// Restored.
    Restore,
}

/// Changes the status (publish, unpublish, archive) or the deletion mark.
pub async fn set_state(
    state: &AppState,
    caller: &Caller,
    id: &str,
    expected: i32,
    change: StateChange,
) -> Result<offer::Model> {
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "").await?;
    let current = for_edit(&w, caller, id).await?;
    let mut wanted = current.clone();
    let action = match change {
        StateChange::Publish => {
            wanted.status = OfferStatus::Published;
            RevisionAction::Publish
        }
        StateChange::Unpublish => {
            wanted.status = OfferStatus::Draft;
            RevisionAction::Unpublish
        }
        StateChange::Archive => {
            wanted.status = OfferStatus::Archived;
            RevisionAction::Archive
        }
        StateChange::Delete => {
            if current.deleted_at.is_some() {
                return Err(Error::conflict("the offer is already deleted", current.version));
            }
            wanted.deleted_at = Some(Utc::now());
            RevisionAction::Delete
        }
        StateChange::Restore => {
            if current.deleted_at.is_none() {
                return Err(Error::conflict("the offer is not deleted", current.version));
            }
            wanted.deleted_at = None;
            RevisionAction::Restore
        }
    };
    if !matches!(change, StateChange::Delete | StateChange::Restore) && current.deleted_at.is_some() {
        return Err(Error::NotFound(format!("offer {id} is deleted: restore it first")));
    }
    let saved = w.update(&current, wanted, expected, action).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
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
    let list: Vec<_> = list.into_iter().map(|o| (o.start, o.end)).collect();
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "").await?;
    let current = for_edit(&w, caller, id).await?;
    let saved = w.touch(&current, expected, RevisionAction::Update).await?;
    w.set_occurrences(id, &list).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
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
    let media = input::media(&list)?;
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "").await?;
    let current = for_edit(&w, caller, id).await?;
    let saved = w.touch(&current, expected, RevisionAction::Update).await?;
    w.set_media(id, media).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
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
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "").await?;
    let current = for_edit(&w, caller, id).await?;
    if !current.is_totem {
        return Err(input::invalid_field("totemId", "only a totem has corrélats"));
    }
    if let Some(i) = offers.iter().position(|o| o == id) {
        return Err(input::invalid_field(&format!("offerIds[{i}]"), "a totem is not its own corrélat"));
    }
    linked(&w, caller, "offerIds", &offers).await?;
    let saved = w.touch(&current, expected, RevisionAction::Update).await?;
    w.set_correlates(id, &offers).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
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
        return Err(input::invalid_field("offerIds", "a route has 2 to 200 stages"));
    }
    let mut w = Writer::begin(state.lane.db(), &caller.actor(), "").await?;
    let current = for_edit(&w, caller, id).await?;
    if current.kind != entities::vocab::OfferKind::Route {
        return Err(input::invalid_field("routeId", "only an offer of kind route has stages"));
    }
    let stages = linked(&w, caller, "offerIds", &offers).await?;
    let points: Vec<(f64, f64)> = stages.iter().map(|s| (s.lon, s.lat)).collect();
    use sea_orm::EntityTrait;
    let existing = entities::prelude::Route::find_by_id(id.to_owned()).one(w.db()).await?;
    let line_precision = existing.as_ref().map_or(LinePrecision::Schematic, |r| r.line_precision);
    let mut wanted = current.clone();
    let line = geo::LineString::from(points);
    let length: f64 =
        line.lines().map(|l| Haversine.distance(geo::Point::from(l.start), geo::Point::from(l.end))).sum();
    if line_precision == LinePrecision::Schematic {
        let g = geo::Geometry::LineString(line);
        let [west, south, east, north] =
            entities::domain::geometry::bbox(&g).map_err(|e| Error::Internal(e.to_string()))?;
        wanted.geometry = Some(entities::domain::geometry::to_geojson(&g).to_string());
        (wanted.min_lon, wanted.min_lat, wanted.max_lon, wanted.max_lat) = (west, south, east, north);
    }
    let saved = w.update(&current, wanted, expected, RevisionAction::Update).await?;
    let practices = match practices {
        Some(p) => entities::values::Codes(p),
        None => existing.as_ref().map(|r| r.practices.clone()).unwrap_or_default(),
    };
    let facts = entities::route::Model {
        offer_id: id.to_owned(),
        length_meters: (length * 10.0).round() / 10.0,
        practices,
        difficulty: existing.as_ref().and_then(|r| r.difficulty),
        line_precision,
    };
    w.set_route(facts, &offers).await?;
    let committed = w.commit().await?;
    after_commit(state, committed).await;
    Ok(saved)
}
