//! Inputs of the offer mutations, and their conversion into the model's values at the edge:
//! every check is the model's own (`entities::values`, `entities::domain::check`), the same the
//! loader and the importers pass; each error names its field (`extensions.field`).

use async_graphql::{InputObject, Json};
use chrono::{DateTime, Utc};
use entities::domain::check::{self, Checked, invalid};
use entities::domain::geometry;
use entities::values::{self, MAX_NAME, MAX_SHORT, MAX_TEXT};
use geo::{Contains, Point};
use serde_json::Value;

use super::types::{GeoPrecision, MediaKind, OfferKind};
use crate::catalog::Catalog;

/// Texts in the four languages; French is the language of record.
#[derive(Debug, Clone, Default, InputObject)]
pub struct TextsInput {
    /// French.
    pub fr: Option<String>,
    /// English.
    pub en: Option<String>,
    /// Dutch.
    pub nl: Option<String>,
    /// German.
    pub de: Option<String>,
}

impl TextsInput {
    /// The checked texts.
    pub fn checked(&self, field: &str, max: usize, need_fr: bool) -> Checked<values::Texts> {
        values::Texts { fr: self.fr.clone(), en: self.en.clone(), nl: self.nl.clone(), de: self.de.clone() }
            .check(field, max, need_fr)
    }
}

/// A WGS84 point.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct LocationInput {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A postal address.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AddressInput {
    /// Street and number.
    pub street: Option<String>,
    /// Postcode (five digits in France).
    pub postal_code: Option<String>,
    /// Locality.
    pub locality: Option<String>,
}

/// Contacts.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ContactInput {
    /// Phone numbers.
    pub phones: Option<Vec<String>>,
    /// E-mail addresses.
    pub emails: Option<Vec<String>>,
    /// Websites (http or https URLs).
    pub websites: Option<Vec<String>>,
}

/// Accessibility facts.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AccessibilityInput {
    /// yes, limited or no.
    pub wheelchair: Option<String>,
    /// Tourisme & Handicap labels: motor, visual, hearing, mental.
    pub tourisme_handicap: Option<Vec<String>>,
}

/// Capacity of an accommodation.
#[derive(Debug, Clone, Default, InputObject)]
pub struct CapacityInput {
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

/// A price.
#[derive(Debug, Clone, Default, InputObject)]
pub struct PriceInput {
    /// What it is for (adult, child, group…).
    pub label: Option<String>,
    /// Lowest amount.
    pub min_price: Option<f64>,
    /// Highest amount.
    pub max_price: Option<f64>,
    /// ISO 4217 currency (default EUR).
    pub currency: Option<String>,
}

/// The fields of an offer. On creation `kind`, `name.fr` and `location` are required; on update
/// only the fields given change (a list given replaces the list).
#[derive(Debug, Clone, Default, InputObject)]
pub struct OfferInput {
    /// URL slug (lowercase words and hyphens); derived from the name when absent on creation.
    pub slug: Option<String>,
    /// Kind.
    pub kind: Option<OfferKind>,
    /// DATAtourisme classes.
    pub classes: Option<Vec<String>>,
    /// Theme codes.
    pub themes: Option<Vec<String>>,
    /// Name.
    pub name: Option<TextsInput>,
    /// Short description.
    pub short_description: Option<TextsInput>,
    /// Long description.
    pub description: Option<TextsInput>,
    /// Representative point.
    pub location: Option<LocationInput>,
    /// How precise the point is (default EXACT).
    pub geo_precision: Option<GeoPrecision>,
    /// Footprint or line, a GeoJSON geometry (RFC 7946, WGS84).
    pub geometry: Option<Json<Value>>,
    /// INSEE code of the commune; derived from the point when absent.
    pub commune: Option<String>,
    /// A partner place outside the territory (no commune of the territory).
    pub outside_territory: Option<bool>,
    /// Postal address.
    pub address: Option<AddressInput>,
    /// Contacts.
    pub contact: Option<ContactInput>,
    /// Opening hours in OpenStreetMap `opening_hours` syntax.
    pub opening_hours: Option<String>,
    /// Opening hours as free text, when the syntax cannot say them.
    pub opening_hours_text: Option<String>,
    /// Prices.
    pub prices: Option<Vec<PriceInput>>,
    /// Accessibility.
    pub accessibility: Option<AccessibilityInput>,
    /// Labels.
    pub labels: Option<Vec<String>>,
    /// Capacity.
    pub capacity: Option<CapacityInput>,
    /// Organisation that owns the offer (editors only).
    pub owner: Option<String>,
}

/// An occurrence of an event.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct OccurrenceInput {
    /// Start.
    pub start: DateTime<Utc>,
    /// End, at or after the start.
    pub end: DateTime<Utc>,
}

/// A media item.
#[derive(Debug, Clone, InputObject)]
pub struct MediaInput {
    /// Kind.
    pub kind: MediaKind,
    /// Address of the file (http or https).
    pub url: String,
    /// Title.
    pub title: Option<TextsInput>,
    /// Licence of the file (required: never assume the data licence covers it).
    pub licence: String,
    /// Credit.
    pub credit: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
}

/// A required field is missing.
pub fn required(field: &str) -> crate::error::Error {
    invalid_field(field, "required")
}

/// A field is invalid.
pub fn invalid_field(field: &str, message: impl Into<String>) -> crate::error::Error {
    crate::error::Error::Invalid { field: field.to_owned(), message: message.into() }
}

/// An id names no offer the caller may read (whether it does not exist or is not the caller's
/// to see: the two answer the same).
pub fn invalid_link(field: &str, id: &str) -> crate::error::Error {
    invalid_field(field, format!("no offer {id}"))
}

/// The checked fields of an input, ready to apply over an offer.
pub fn apply(catalog: &Catalog, base: &mut entities::offer::Model, input: &OfferInput, creating: bool) -> Checked<()> {
    if let Some(kind) = input.kind {
        base.kind = kind.into();
    }
    if let Some(name) = &input.name {
        base.name = name.checked("input.name", MAX_NAME, true)?;
    }
    if let Some(t) = &input.short_description {
        base.short_description = Some(t.checked("input.shortDescription", MAX_SHORT, false)?).filter(|t| !t.is_empty());
    }
    if let Some(t) = &input.description {
        base.description = Some(t.checked("input.description", MAX_TEXT, false)?).filter(|t| !t.is_empty());
    }
    if let Some(slug) = &input.slug {
        base.slug = slug.trim().to_owned();
    }
    if let Some(classes) = &input.classes {
        base.classes = values::Codes(classes.clone()).check("input.classes")?;
    }
    if let Some(labels) = &input.labels {
        base.labels = values::Codes(labels.clone()).check("input.labels")?;
    }
    if let Some(p) = input.geo_precision {
        base.geo_precision = p.into();
    }
    if let Some(l) = input.location {
        (base.lon, base.lat) = check::position("input.location", l.lon, l.lat)?;
    }
    if let Some(g) = &input.geometry {
        let geometry = geometry::footprint(&g.0).map_err(|m| invalid("input.geometry", m))?;
        let [w, s, e, n] = geometry::bbox(&geometry).map_err(|e| invalid("input.geometry", e.to_string()))?;
        base.geometry = Some(geometry::to_geojson(&geometry).to_string());
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
        let at_point = commune_at(catalog, base.lon, base.lat);
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
        let address = values::Address {
            street: a.street.clone(),
            postal_code: a.postal_code.clone(),
            locality: a.locality.clone(),
            insee_code: base.commune_insee.clone(),
        };
        base.address = Some(address.check("input.address")?);
    }
    if let Some(c) = &input.contact {
        let contacts = values::Contacts {
            phones: c.phones.clone().unwrap_or_default(),
            emails: c.emails.clone().unwrap_or_default(),
            websites: c.websites.clone().unwrap_or_default(),
        };
        base.contacts = Some(contacts.check("input.contact")?);
    }
    if let Some(h) = &input.opening_hours {
        base.opening_hours = if h.trim().is_empty() {
            None
        } else {
            let h = check::text("input.openingHours", h, entities::domain::hours::MAX_LENGTH)?;
            entities::domain::hours::check(&h)
                .map_err(|e| invalid("input.openingHours", format!("not OpenStreetMap opening_hours syntax: {e}")))?;
            Some(h)
        };
    }
    if let Some(t) = &input.opening_hours_text {
        base.opening_hours_text = Some(check::text("input.openingHoursText", t, 2000)?).filter(|t| !t.is_empty());
    }
    if let Some(p) = &input.prices {
        let prices = values::Prices(
            p.iter()
                .map(|p| values::Price {
                    label: p.label.clone(),
                    min_price: p.min_price,
                    max_price: p.max_price,
                    currency: p.currency.clone(),
                })
                .collect(),
        );
        base.prices = Some(prices.check("input.prices")?).filter(|p| !p.0.is_empty());
    }
    if let Some(a) = &input.accessibility {
        let acc = values::Accessibility {
            wheelchair: a.wheelchair.clone(),
            tourisme_handicap: a.tourisme_handicap.clone().unwrap_or_default(),
        };
        base.accessibility = Some(acc.check("input.accessibility")?);
    }
    if let Some(c) = &input.capacity {
        let cap =
            values::Capacity { beds: c.beds, rooms: c.rooms, units: c.units, people: c.people, pitches: c.pitches };
        base.capacity = Some(cap.check("input.capacity")?).filter(|c| !c.is_empty());
    }
    Ok(())
}

/// The commune of the territory holding a point, if any.
pub fn commune_at(catalog: &Catalog, lon: f64, lat: f64) -> Option<String> {
    catalog.communes.iter().find(|c| c.geometry.contains(&Point::new(lon, lat))).map(|c| c.insee.clone())
}

/// Checks a list of theme codes against the catalog's themes.
pub fn themes(catalog: &Catalog, field: &str, themes: &[String]) -> Checked<Vec<String>> {
    for (i, t) in themes.iter().enumerate() {
        if catalog.theme(t).is_none() {
            return Err(invalid(format!("{field}[{i}]"), format!("unknown theme {t:?}")));
        }
    }
    let mut v = themes.to_vec();
    v.sort();
    v.dedup();
    Ok(v)
}

/// Media items as the model writes them (checked by the write path).
pub fn media(list: &[MediaInput]) -> Checked<Vec<entities::media::Model>> {
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(entities::media::Model {
                id: String::new(),
                offer_id: String::new(),
                position: 0,
                kind: m.kind.into(),
                url: m.url.clone(),
                title: m.title.as_ref().map(|t| t.checked(&format!("media[{i}].title"), 300, false)).transpose()?,
                licence: Some(m.licence.clone()),
                credit: m.credit.clone(),
                mime_type: m.mime_type.clone(),
            })
        })
        .collect()
}
