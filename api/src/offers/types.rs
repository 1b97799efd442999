//! GraphQL types of the offer. They read the request's catalog snapshot, so a whole response
//! sees one consistent version and no relation costs a database round trip.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::{Catalog, CommuneRecord, OfferRecord, Texts, ThemeRecord};
use crate::error::Error;
use crate::graphql::context;
use crate::graphql::raw::RawJson;
use crate::lang::Lang;
use entities::domain::geometry::GeoJson;

/// The largest page.
pub const MAX_PAGE: i32 = 100;

/// Kinds of offer.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::OfferKind")]
pub enum OfferKind {
    /// A place to visit.
    Site,
    /// Somewhere to stay.
    Accommodation,
    /// Something that happens on dates.
    Event,
    /// An itinerary.
    Route,
    /// Somewhere to eat.
    Restaurant,
    /// An activity provider.
    Activity,
    /// A service (tourist office, rental…).
    Service,
}

/// How precise a position is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::GeoPrecision")]
pub enum GeoPrecision {
    /// Surveyed or taken from an official dataset.
    Exact,
    /// Placed by hand near the place.
    Approximate,
    /// Only the commune is known: the point is somewhere in it.
    Commune,
}

/// Where an offer stands in its life.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::OfferStatus")]
pub enum OfferStatus {
    /// Being written: seen only by those who may edit it.
    Draft,
    /// Public.
    Published,
    /// No longer public, kept.
    Archived,
}

/// Kinds of media.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::MediaKind")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A film.
    Video,
    /// A recording.
    Audio,
    /// A document.
    Document,
}

/// What a change of an offer was.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::RevisionAction")]
pub enum RevisionAction {
    /// Created.
    Create,
    /// Fields, occurrences, media, stages or links changed.
    Update,
    /// Made public.
    Publish,
    /// Back to draft.
    Unpublish,
    /// Archived.
    Archive,
    /// Soft-deleted.
    Delete,
    /// Restored after a deletion.
    Restore,
    /// Written by the territory loader.
    Seed,
    /// Written by an importer.
    Import,
}

/// How faithful a route's line is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::LinePrecision")]
pub enum LinePrecision {
    /// A real track.
    Surveyed,
    /// Straight lines through the stages.
    Schematic,
}

/// How hard a route is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::Difficulty")]
pub enum Difficulty {
    /// For everyone.
    Easy,
    /// Some effort.
    Medium,
    /// For the trained.
    Hard,
}

/// A point in WGS84.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct Location {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A postal address.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Address {
    /// Street and number.
    pub street: Option<String>,
    /// Postcode.
    pub postal_code: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// INSEE code of the commune.
    pub insee_code: Option<String>,
}

/// Ways to reach the offer.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Contact {
    /// Phone numbers.
    pub phones: Vec<String>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Websites.
    pub websites: Vec<String>,
}

/// Accessibility facts.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Accessibility {
    /// OpenStreetMap `wheelchair` value: yes, limited or no.
    pub wheelchair: Option<String>,
    /// Tourisme & Handicap labels (motor, visual, hearing, mental).
    pub tourisme_handicap: Vec<String>,
}

/// Capacity of an accommodation.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Capacity {
    /// Beds.
    pub beds: Option<i32>,
    /// Rooms.
    pub rooms: Option<i32>,
    /// Units (rentals, chalets, mobile homes).
    pub units: Option<i32>,
    /// People it can host.
    pub people: Option<i32>,
    /// Pitches (campsites).
    pub pitches: Option<i32>,
}

/// Types of establishment in Atout France's register.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::AccommodationType")]
pub enum AccommodationType {
    /// Hôtel de tourisme.
    Hotel,
    /// Camping.
    Campsite,
    /// Résidence de tourisme.
    TouristResidence,
    /// Village de vacances.
    HolidayVillage,
    /// Parc résidentiel de loisirs.
    ResidentialLeisurePark,
    /// Auberge collective.
    CollectiveHostel,
}

/// The category of a classified campsite.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::CampsiteCategory")]
pub enum CampsiteCategory {
    /// « Tourisme »: mostly pitches for passing visitors.
    Tourism,
    /// « Loisirs »: mostly pitches rented for the season or longer.
    Leisure,
}

/// The mention of a classified holiday village.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::VillageMention")]
pub enum VillageMention {
    /// No mention.
    None,
    /// « Hébergement dispersé ».
    Dispersed,
    /// « Hébergement léger ».
    Light,
    /// « Hébergement léger et dispersé ».
    LightAndDispersed,
}

/// How a holiday village is sold.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::vocab::StayFormula")]
pub enum StayFormula {
    /// Full or half board.
    Board,
    /// Rental or board.
    RentalAndBoard,
    /// Rental only.
    Rental,
}

/// A classification in Atout France's register of classified tourist accommodation.
#[derive(SimpleObject, Clone, Debug)]
pub struct Classification {
    /// Type of establishment.
    pub typology: AccommodationType,
    /// Stars, 1 to 5 (null for a class without stars: « Aire naturelle », « Auberge collective »).
    pub stars: Option<i32>,
    /// The class as the register words it (« 3 étoiles »).
    pub label: String,
    /// For a campsite: tourism or leisure.
    pub category: Option<CampsiteCategory>,
    /// For a holiday village: its mention.
    pub mention: Option<VillageMention>,
    /// For a holiday village: how stays are sold.
    pub stay: Option<StayFormula>,
    /// Date of the classification decision.
    pub classified_on: chrono::NaiveDate,
    /// Whether the classification was extended beyond its five years.
    pub extended: bool,
}

impl From<&entities::values::Classification> for Classification {
    fn from(c: &entities::values::Classification) -> Classification {
        Classification {
            typology: c.typology.into(),
            stars: c.stars,
            label: c.label.clone(),
            category: c.category.map(Into::into),
            mention: c.mention.map(Into::into),
            stay: c.stay.map(Into::into),
            classified_on: c.classified_on,
            extended: c.extended,
        }
    }
}

/// One price.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct Price {
    /// What it is for (adult, child, group…).
    pub label: Option<String>,
    /// Lowest amount.
    pub min_price: Option<f64>,
    /// Highest amount.
    pub max_price: Option<f64>,
    /// ISO 4217 currency.
    pub currency: String,
}

/// One occurrence of an event.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct Occurrence {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// Where a record comes from and under which licence.
#[derive(SimpleObject, Clone, Debug)]
pub struct Source {
    /// Source system.
    pub name: String,
    /// Id of the record there.
    pub id: String,
    /// Licence of the data.
    pub licence: String,
    /// Attribution to show.
    pub attribution: String,
    /// Page of the record there.
    pub url: Option<String>,
    /// Last change there.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A picture, video or document, with its own licence and credit.
#[derive(SimpleObject, Clone, Debug)]
pub struct MediaItem {
    /// Id.
    pub id: ID,
    /// Kind.
    pub kind: MediaKind,
    /// Address of the file.
    pub url: String,
    /// Title in the requested language.
    pub title: Option<String>,
    /// Licence (never assume the data licence covers it).
    pub licence: Option<String>,
    /// Credit.
    pub credit: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
}

fn text(t: &Texts, lang: Lang) -> Option<String> {
    t.get(lang).map(|(s, _)| s.to_owned())
}

fn boxed(s: &Option<Box<str>>) -> Option<String> {
    s.as_deref().map(str::to_owned)
}

/// An offer in the language of the request.
#[derive(Clone)]
pub struct OfferNode {
    /// The snapshot it comes from.
    pub catalog: Arc<Catalog>,
    /// The record.
    pub record: Arc<OfferRecord>,
    /// Language of its texts.
    pub lang: Lang,
    /// Distance to a `near` centre.
    pub distance: Option<f64>,
}

impl OfferNode {
    /// A node of a record of a snapshot.
    pub fn new(catalog: &Arc<Catalog>, record: &Arc<OfferRecord>, lang: Lang) -> OfferNode {
        OfferNode { catalog: catalog.clone(), record: record.clone(), lang, distance: None }
    }

    fn other(&self, record: &Arc<OfferRecord>) -> OfferNode {
        OfferNode::new(&self.catalog, record, self.lang)
    }
}

/// The complexity of a page: `first` (or its default) times its children, plus one.
pub fn page_cost(first: Option<i32>, default: i32, child_complexity: usize) -> usize {
    usize::try_from(first.unwrap_or(default).max(0)).unwrap_or(0).saturating_mul(child_complexity).saturating_add(1)
}

/// Clamps `first` to the page limits, refusing what exceeds them.
pub fn check_first(first: i32, path: &str) -> Result<usize, Error> {
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(Error::BadUserInput(format!("{path} must be between 0 and {MAX_PAGE}")));
    }
    Ok(first as usize)
}

/// An offer: a place, accommodation, event, route, restaurant, activity or service.
#[Object(name = "Offer")]
impl OfferNode {
    /// Stable id (UUID), never reused.
    async fn id(&self) -> ID {
        ID(self.record.id_string())
    }
    /// URL slug, unique.
    async fn slug(&self) -> &str {
        &self.record.slug
    }
    /// Kind.
    async fn kind(&self) -> OfferKind {
        self.record.kind.into()
    }
    /// DATAtourisme ontology classes.
    async fn classes(&self) -> &[String] {
        &self.record.classes
    }
    /// Themes it belongs to.
    async fn themes(&self) -> Vec<ThemeNode> {
        self.record
            .themes
            .iter()
            .filter_map(|code| self.catalog.themes.iter().position(|t| *t.code == **code))
            .map(|i| ThemeNode { catalog: self.catalog.clone(), index: i, lang: self.lang })
            .collect()
    }
    /// Whether it is one of the five totems.
    async fn is_totem(&self) -> bool {
        self.record.is_totem
    }
    /// The totems it is a corrélat of.
    async fn totems(&self) -> Vec<OfferNode> {
        self.catalog.totems_of(&self.record.id).into_iter().map(|t| self.other(t)).collect()
    }
    /// For a totem, the places it sends visitors on to, in order.
    #[graphql(complexity = "page_cost(first, 20, child_complexity)")]
    async fn correlates(&self, #[graphql(default = 20)] first: Option<i32>) -> async_graphql::Result<Vec<OfferNode>> {
        let first = check_first(first.unwrap_or(20), "correlates.first").map_err(Error::into_graphql)?;
        Ok(self.catalog.correlates_of(&self.record).take(first).map(|o| self.other(o)).collect())
    }
    /// Name, in the requested language or French.
    async fn name(&self) -> String {
        text(&self.record.name, self.lang).unwrap_or_default()
    }
    /// Language `name` is given in (differs from the requested one when it fell back to French).
    async fn name_lang(&self) -> Lang {
        self.record.name.get(self.lang).map_or(Lang::Fr, |(_, l)| l)
    }
    /// Short description.
    async fn short_description(&self) -> Option<String> {
        text(&self.record.short_description, self.lang)
    }
    /// Language of `shortDescription`.
    async fn short_description_lang(&self) -> Option<Lang> {
        self.record.short_description.get(self.lang).map(|(_, l)| l)
    }
    /// Long description.
    async fn description(&self) -> Option<String> {
        text(&self.record.description, self.lang)
    }
    /// Language of `description`.
    async fn description_lang(&self) -> Option<Lang> {
        self.record.description.get(self.lang).map(|(_, l)| l)
    }
    /// Languages the name is available in.
    async fn languages(&self) -> Vec<Lang> {
        Lang::ALL.into_iter().filter(|l| self.record.name.exact(*l).is_some()).collect()
    }
    /// Representative point.
    async fn location(&self) -> Location {
        let [lon, lat] = self.record.point;
        Location { lat, lon }
    }
    /// How precise `location` is.
    async fn geo_precision(&self) -> GeoPrecision {
        self.record.geo_precision.into()
    }
    /// Footprint or line as a GeoJSON geometry (RFC 7946), or the point when it has none.
    async fn geometry(&self) -> RawJson {
        let r = &self.record;
        match &r.geometry {
            Some(g) => RawJson::of(&GeoJson(g)),
            None => RawJson::of(&GeoJson(&geo::Geometry::Point(r.point.into()))),
        }
    }
    /// Bounding box `[west, south, east, north]`.
    async fn bbox(&self) -> Vec<f64> {
        self.record.bbox.to_vec()
    }
    /// Commune (inside the territory).
    async fn commune(&self) -> Option<CommuneNode> {
        let code = self.record.commune.as_deref()?;
        self.catalog.communes.iter().position(|c| c.insee == code).map(|index| CommuneNode {
            catalog: self.catalog.clone(),
            index,
            lang: self.lang,
        })
    }
    /// Whether it lies inside the territory of La Porte du Hainaut.
    async fn in_territory(&self) -> bool {
        self.record.in_territory
    }
    /// Postal address.
    async fn address(&self) -> Option<Address> {
        self.record.address.as_ref().map(|a| Address {
            street: a.street.clone(),
            postal_code: a.postal_code.clone(),
            locality: a.locality.clone(),
            insee_code: a.insee_code.clone(),
        })
    }
    /// Contacts.
    async fn contact(&self) -> Option<Contact> {
        self.record.contacts.as_ref().map(|c| Contact {
            phones: c.phones.clone(),
            emails: c.emails.clone(),
            websites: c.websites.clone(),
        })
    }
    /// Opening hours in OpenStreetMap `opening_hours` syntax.
    async fn opening_hours(&self) -> Option<&str> {
        self.record.opening_hours.as_deref()
    }
    /// Opening hours that the syntax cannot express, as text.
    async fn opening_hours_text(&self) -> Option<&str> {
        self.record.opening_hours_text.as_deref()
    }
    /// Whether it is open at an instant (Europe/Paris time); null when its hours are unknown.
    async fn is_open_at(&self, at: DateTime<Utc>) -> Option<bool> {
        let local = at.with_timezone(&chrono_tz::Europe::Paris).naive_local();
        self.record.schedule.as_ref().map(|s| s.is_open(local))
    }
    /// Event occurrences overlapping `[from, to]`, by start.
    async fn occurrences(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Vec<Occurrence> {
        self.record
            .occurrences
            .iter()
            .filter(|o| from.is_none_or(|f| o.end >= f) && to.is_none_or(|t| o.start <= t))
            .map(|o| Occurrence { start: o.start, end: o.end })
            .collect()
    }
    /// Accessibility.
    async fn accessibility(&self) -> Option<Accessibility> {
        self.record
            .accessibility
            .as_ref()
            .map(|a| Accessibility { wheelchair: a.wheelchair.clone(), tourisme_handicap: a.tourisme_handicap.clone() })
    }
    /// Labels (UNESCO, monuments historiques, Qualité Tourisme, Accueil Vélo…).
    async fn labels(&self) -> &[String] {
        &self.record.labels
    }
    /// Capacity, for accommodation.
    async fn capacity(&self) -> Option<Capacity> {
        self.record.capacity.as_ref().map(|c| Capacity {
            beds: c.beds,
            rooms: c.rooms,
            units: c.units,
            people: c.people,
            pitches: c.pitches,
        })
    }
    /// Classification in Atout France's register, for classified accommodation (null when not
    /// classified, or no longer).
    async fn classification(&self) -> Option<Classification> {
        self.record.classification.as_deref().map(Classification::from)
    }
    /// Prices.
    async fn prices(&self) -> Vec<Price> {
        self.record
            .prices
            .iter()
            .flat_map(|p| p.0.iter())
            .map(|p| Price {
                label: p.label.clone(),
                min_price: p.min_price,
                max_price: p.max_price,
                currency: p.currency.clone().unwrap_or_else(|| "EUR".to_owned()),
            })
            .collect()
    }
    /// Media, each with its licence and credit.
    async fn media(&self) -> Vec<MediaItem> {
        self.record
            .media
            .iter()
            .map(|m| MediaItem {
                id: ID(m.id.to_string()),
                kind: m.kind.into(),
                url: m.url.to_string(),
                title: text(&m.title, self.lang),
                licence: boxed(&m.licence),
                credit: boxed(&m.credit),
                mime_type: boxed(&m.mime_type),
            })
            .collect()
    }
    /// Provenance and licence.
    async fn source(&self) -> Source {
        let p = &self.record.provenance;
        Source {
            name: p.source.to_string(),
            id: p.source_id.to_string(),
            licence: p.licence.to_string(),
            attribution: p.attribution.to_string(),
            url: boxed(&p.url),
            updated_at: p.updated_at,
        }
    }
    /// Distance in metres to the `near` centre of the query, when there is one.
    async fn distance_meters(&self) -> Option<f64> {
        self.distance.map(|d| (d * 10.0).round() / 10.0)
    }
    /// Other offers around it, nearest first.
    #[graphql(complexity = "page_cost(first, 10, child_complexity)")]
    async fn nearby(
        &self,
        #[graphql(default = 1000.0)] radius_meters: Option<f64>,
        #[graphql(default = 10)] first: Option<i32>,
        kinds: Option<Vec<OfferKind>>,
    ) -> async_graphql::Result<Vec<OfferNode>> {
        let first = check_first(first.unwrap_or(10), "nearby.first").map_err(Error::into_graphql)?;
        let radius_meters = radius_meters.unwrap_or(1000.0);
        crate::offers::filter::check_radius(radius_meters, "nearby.radiusMeters").map_err(Error::into_graphql)?;
        let kinds: Vec<entities::vocab::OfferKind> = kinds.unwrap_or_default().into_iter().map(Into::into).collect();
        Ok(self
            .catalog
            .nearby(&self.record, radius_meters, &kinds, first)
            .into_iter()
            .map(|h| OfferNode {
                catalog: self.catalog.clone(),
                record: h.record,
                lang: self.lang,
                distance: h.distance,
            })
            .collect())
    }
    /// Its QR codes (signage).
    async fn qr_codes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::qr::graphql::QrCodeNode>> {
        let r = &self.record;
        let target = if r.route.is_some() || r.kind == entities::vocab::OfferKind::Route {
            crate::qr::codes::Target::Route(r.id_string())
        } else {
            crate::qr::codes::Target::Offer(r.id_string())
        };
        crate::qr::graphql::codes_of(ctx, &self.catalog, target, self.lang).await
    }
    /// Route facts, for a route.
    async fn route(&self) -> Option<RouteDetails> {
        self.record.route.as_ref().map(|_| RouteDetails { node: self.clone() })
    }
    /// Version, bumped by every change (pass it as `expectedVersion`).
    async fn version(&self) -> i32 {
        self.record.version
    }
    /// Where it stands: draft, published or archived.
    async fn status(&self) -> OfferStatus {
        self.record.status.into()
    }
    /// When it was deleted (only editors see deleted offers).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.record.deleted_at
    }
    /// The organisation that owns it (editors and its providers only).
    async fn owner(&self, ctx: &Context<'_>) -> Option<String> {
        let caller = context::caller(ctx);
        let owner = boxed(&self.record.owner);
        caller.can_edit_offer(owner.as_deref()).then_some(owner).flatten()
    }
    /// Its history, newest first: who changed it, when, and what it was before (editors and
    /// its providers only).
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Revision>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let first = first.unwrap_or(20);
        let caller = context::caller(ctx);
        caller.require_editing().map_err(Error::into_graphql)?;
        if !caller.can_edit_offer(self.record.owner.as_deref()) {
            return Err(Error::Forbidden("this key may not read this offer's history".into()).into_graphql());
        }
        let first = check_first(first, "revisions.first").map_err(Error::into_graphql)?;
        let state = context::state(ctx)?;
        let rows = entities::prelude::Revision::find()
            .filter(entities::revision::Column::OfferId.eq(self.record.id_string()))
            .order_by_desc(entities::revision::Column::Id)
            .limit(first as u64)
            .all(&state.db)
            .await
            .map_err(|e| Error::from(e).into_graphql())?;
        Ok(rows
            .into_iter()
            .map(|r| Revision {
                version: r.version,
                action: r.action.into(),
                actor: r.actor,
                at: r.created_at,
                before: r.before.map(Json),
                note: r.note,
            })
            .collect())
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.record.updated_at
    }
    /// Its public page on the website.
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        context::urls(ctx).map(|u| u.offer_page(&self.record.slug))
    }
}

/// One change in an offer's history.
#[derive(SimpleObject, Clone, Debug)]
pub struct Revision {
    /// The offer's version after the change.
    pub version: i32,
    /// What the change was.
    pub action: RevisionAction,
    /// Who made it (`role:key name`, `seed`, `import:source`).
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The offer as it was before (absent for a creation).
    pub before: Option<Json<Value>>,
    /// Why, when the writer said (e.g. a classification withdrawn by an import).
    pub note: Option<String>,
}

/// The itinerary facts of a route.
pub struct RouteDetails {
    node: OfferNode,
}

/// An itinerary: its ordered stages, length and practices.
#[Object]
impl RouteDetails {
    /// Stages, in order (the public ones).
    async fn stages(&self) -> Vec<OfferNode> {
        self.node.catalog.stages_of(&self.node.record).map(|o| self.node.other(o)).collect()
    }
    /// Length in metres.
    async fn length_meters(&self) -> f64 {
        self.node.record.route.as_ref().map_or(0.0, |r| r.length_meters)
    }
    /// Practices: walking, cycling-road, mtb, hybrid-bike, horse-riding, river.
    async fn practices(&self) -> Vec<String> {
        self.node.record.route.as_ref().map(|r| r.practices.clone()).unwrap_or_default()
    }
    /// How hard it is, when known.
    async fn difficulty(&self) -> Option<Difficulty> {
        self.node.record.route.as_ref().and_then(|r| r.difficulty).map(Into::into)
    }
    /// A real track (surveyed) or a straight line through the stages (schematic).
    async fn line_precision(&self) -> LinePrecision {
        self.node.record.route.as_ref().map_or(LinePrecision::Schematic, |r| r.line_precision.into())
    }
}

/// A theme of the tourism strategy.
#[derive(Clone)]
pub struct ThemeNode {
    /// Snapshot.
    pub catalog: Arc<Catalog>,
    /// Index in `catalog.themes`.
    pub index: usize,
    /// Language.
    pub lang: Lang,
}

impl ThemeNode {
    fn record(&self) -> &ThemeRecord {
        &self.catalog.themes[self.index]
    }
}

/// A theme, entered through its totem.
#[Object(name = "Theme")]
impl ThemeNode {
    /// Code, e.g. `decouverte`.
    async fn code(&self) -> &str {
        &self.record().code
    }
    /// Name.
    async fn name(&self) -> String {
        text(&self.record().name, self.lang).unwrap_or_default()
    }
    /// Language of `name`.
    async fn name_lang(&self) -> Lang {
        self.record().name.get(self.lang).map_or(Lang::Fr, |(_, l)| l)
    }
    /// Description.
    async fn description(&self) -> Option<String> {
        text(&self.record().description, self.lang)
    }
    /// Colour on maps (`#rrggbb`).
    async fn color(&self) -> &str {
        &self.record().color
    }
    /// Its totem.
    async fn totem(&self) -> Option<OfferNode> {
        let id = self.record().totem?;
        self.catalog.get(&id).map(|r| OfferNode::new(&self.catalog, r, self.lang))
    }
    /// Its QR codes (signage).
    async fn qr_codes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::qr::graphql::QrCodeNode>> {
        let target = crate::qr::codes::Target::Theme(self.record().code.clone());
        crate::qr::graphql::codes_of(ctx, &self.catalog, target, self.lang).await
    }
    /// Number of published offers of the theme.
    async fn offer_count(&self) -> usize {
        let code = self.record().code.as_str();
        self.catalog.by_name().filter(|o| o.themes.iter().any(|t| &**t == code)).count()
    }
}

/// A commune of the territory.
#[derive(Clone)]
pub struct CommuneNode {
    /// Snapshot.
    pub catalog: Arc<Catalog>,
    /// Index in `catalog.communes`.
    pub index: usize,
    /// Language.
    pub lang: Lang,
}

impl CommuneNode {
    fn record(&self) -> &CommuneRecord {
        &self.catalog.communes[self.index]
    }
}

/// A commune of La Porte du Hainaut.
#[Object(name = "Commune")]
impl CommuneNode {
    /// INSEE code.
    async fn code(&self) -> &str {
        &self.record().insee
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.record().name
    }
    /// Postcodes.
    async fn postcodes(&self) -> &[String] {
        &self.record().postcodes
    }
    /// Municipal population (INSEE).
    async fn population(&self) -> i64 {
        self.record().population
    }
    /// A point inside the commune.
    async fn location(&self) -> Location {
        let [lon, lat] = self.record().point;
        Location { lat, lon }
    }
    /// Polygon as GeoJSON (RFC 7946).
    async fn geometry(&self) -> RawJson {
        RawJson::of(&self.record().geometry_json)
    }
    /// Bounding box `[west, south, east, north]`.
    async fn bbox(&self) -> Vec<f64> {
        self.record().bbox.to_vec()
    }
    /// Provenance of the record.
    async fn source(&self) -> Source {
        let r = self.record();
        Source {
            name: r.source.clone(),
            id: r.insee.clone(),
            licence: r.licence.clone(),
            attribution: r.source.clone(),
            url: None,
            updated_at: None,
        }
    }
    /// Number of published offers in the commune.
    async fn offer_count(&self) -> usize {
        let code = self.record().insee.as_str();
        self.catalog.by_name().filter(|o| o.commune.as_deref() == Some(code)).count()
    }
}

/// Paging facts of a connection.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// More after `endCursor`.
    pub has_next_page: bool,
    /// Whether the page started after a cursor.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge.
    pub end_cursor: Option<String>,
}

/// An offer and its cursor.
#[derive(SimpleObject, Clone)]
pub struct OfferEdge {
    /// Opaque cursor: pass it as `after` to read on.
    pub cursor: String,
    /// The offer.
    pub node: OfferNode,
}

/// A page of offers (Relay connection).
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct OfferConnection {
    /// Offers with their cursors.
    pub edges: Vec<OfferEdge>,
    /// Paging facts.
    pub page_info: PageInfo,
    /// The query, for `totalCount`.
    #[graphql(skip)]
    pub query: Arc<crate::catalog::query::OfferQuery>,
    /// The snapshot, for `totalCount`.
    #[graphql(skip)]
    pub catalog: Arc<Catalog>,
}

#[ComplexObject]
impl OfferConnection {
    /// The offers of the page, without cursors.
    async fn nodes(&self) -> Vec<OfferNode> {
        self.edges.iter().map(|e| e.node.clone()).collect()
    }
    /// Number of offers matching the filter, over every page (counted only when asked for).
    async fn total_count(&self) -> usize {
        self.catalog.count(&self.query)
    }
}
