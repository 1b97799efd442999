//! `OfferFilter` and its validation at the edge: past this point, a query cannot be invalid.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use super::types::OfferKind;
use crate::catalog::Catalog;
use crate::catalog::query::{MAX_RADIUS_METERS, Near, OfferQuery};
use crate::error::Error;

/// A circle: offers within `radiusMeters` of a point, ordered by distance.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct NearInput {
    /// Latitude (WGS84), -90 to 90.
    pub lat: f64,
    /// Longitude (WGS84), -180 to 180.
    pub lon: f64,
    /// Radius in metres, more than 0 and at most 200,000.
    #[graphql(default = 1000.0)]
    pub radius_meters: Option<f64>,
}

/// A box in WGS84 degrees.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct BboxInput {
    /// Western longitude.
    pub west: f64,
    /// Southern latitude.
    pub south: f64,
    /// Eastern longitude.
    pub east: f64,
    /// Northern latitude.
    pub north: f64,
}

/// Classified accommodation: any of `types`, stars between `minStars` and `maxStars` (an offer
/// without stars does not match a star bound).
#[derive(Debug, Clone, Default, InputObject)]
pub struct ClassificationFilter {
    /// Types of establishment (any of).
    pub types: Option<Vec<super::types::AccommodationType>>,
    /// At least this many stars, 1 to 5.
    pub min_stars: Option<i32>,
    /// At most this many stars, 1 to 5.
    pub max_stars: Option<i32>,
}

/// Capacity of accommodation: each bound given must be met (an offer without that figure does
/// not match).
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct CapacityFilter {
    /// At least this many people.
    pub min_people: Option<i32>,
    /// At least this many rooms.
    pub min_rooms: Option<i32>,
    /// At least this many pitches.
    pub min_pitches: Option<i32>,
    /// At least this many units.
    pub min_units: Option<i32>,
}

/// What to select. Every criterion narrows the result; lists match any of their values,
/// except `labels`, which must all be present.
#[derive(Debug, Clone, Default, InputObject)]
pub struct OfferFilter {
    /// Kinds of offer.
    pub kinds: Option<Vec<OfferKind>>,
    /// Theme codes (see `themes`).
    pub themes: Option<Vec<String>>,
    /// INSEE codes of communes.
    pub communes: Option<Vec<String>>,
    /// Only the corrélats of this totem (id or slug).
    pub totem: Option<ID>,
    /// Words to find in names and descriptions, in any language (accent-, case- and punctuation-insensitive).
    pub text: Option<String>,
    /// Within a circle, ordered by distance.
    pub near: Option<NearInput>,
    /// Representative point inside a box.
    pub bbox: Option<BboxInput>,
    /// Events with an occurrence ending at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events with an occurrence starting at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Open at this instant, by their opening hours (evaluated in Europe/Paris time).
    pub open_at: Option<DateTime<Utc>>,
    /// Changed at or after this instant.
    pub updated_since: Option<DateTime<Utc>>,
    /// Labels that must all be present (e.g. `unesco-patrimoine-mondial`).
    pub labels: Option<Vec<String>>,
    /// Accessible to wheelchair users (true) or not (false).
    pub accessible: Option<bool>,
    /// Classified in Atout France's register, with these types and stars.
    pub classification: Option<ClassificationFilter>,
    /// Accommodation with at least this capacity.
    pub capacity: Option<CapacityFilter>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadUserInput(msg.into())
}

/// Checks a latitude and longitude.
pub fn check_lat_lon(lat: f64, lon: f64, path: &str) -> Result<(), Error> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(bad(format!("{path}.lat must be between -90 and 90")));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(bad(format!("{path}.lon must be between -180 and 180")));
    }
    Ok(())
}

/// Checks a radius in metres.
pub fn check_radius(radius: f64, path: &str) -> Result<(), Error> {
    if !radius.is_finite() || radius <= 0.0 || radius > MAX_RADIUS_METERS {
        return Err(bad(format!("{path} must be more than 0 and at most {MAX_RADIUS_METERS} metres")));
    }
    Ok(())
}

impl OfferFilter {
    /// Validates the filter against the catalog and turns it into a query.
    pub fn into_query(self, catalog: &Catalog) -> Result<OfferQuery, Error> {
        let mut q = OfferQuery {
            kinds: self.kinds.unwrap_or_default().into_iter().map(Into::into).collect(),
            ..OfferQuery::default()
        };
        if let Some(themes) = self.themes {
            for t in &themes {
                if catalog.theme(t).is_none() {
                    let known: Vec<&str> = catalog.themes.iter().map(|t| t.code.as_str()).collect();
                    return Err(bad(format!("filter.themes: unknown theme {t:?} (known: {})", known.join(", "))));
                }
            }
            q.themes = themes;
        }
        if let Some(communes) = self.communes {
            for c in &communes {
                if c.len() != 5 || !c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                    return Err(bad(format!(
                        "filter.communes: {c:?} is not an INSEE code (five characters, e.g. 59632)"
                    )));
                }
            }
            q.communes = communes;
        }
        if let Some(totem) = self.totem {
            let record = catalog
                .find(&totem)
                .ok_or_else(|| Error::NotFound(format!("filter.totem: no offer {:?}", totem.as_str())))?;
            if !record.is_totem {
                return Err(bad(format!("filter.totem: {:?} is not a totem", totem.as_str())));
            }
            q.totem = Some(record.id);
        }
        if let Some(text) = self.text {
            let text = text.trim().to_owned();
            if text.chars().count() > 200 {
                return Err(bad("filter.text is longer than 200 characters"));
            }
            if entities::domain::text::tokens(&text).is_empty() {
                return Err(bad("filter.text has no word to search for"));
            }
            q.text = Some(text);
        }
        if let Some(n) = self.near {
            check_lat_lon(n.lat, n.lon, "filter.near")?;
            let radius_meters = n.radius_meters.unwrap_or(1000.0);
            check_radius(radius_meters, "filter.near.radiusMeters")?;
            q.near = Some(Near { lat: n.lat, lon: n.lon, radius_meters });
        }
        if let Some(b) = self.bbox {
            check_lat_lon(b.south, b.west, "filter.bbox (south, west)")?;
            check_lat_lon(b.north, b.east, "filter.bbox (north, east)")?;
            if b.west > b.east || b.south > b.north {
                return Err(bad("filter.bbox: west must not exceed east, nor south north"));
            }
            q.bbox = Some([b.west, b.south, b.east, b.north]);
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(bad("filter.from must not be after filter.to"));
        }
        q.from = self.from;
        q.to = self.to;
        q.open_at = self.open_at;
        q.updated_since = self.updated_since;
        q.labels = self.labels.unwrap_or_default();
        q.accessible = self.accessible;
        if let Some(c) = self.classification {
            for (name, v) in [("minStars", c.min_stars), ("maxStars", c.max_stars)] {
                if v.is_some_and(|v| !(1..=5).contains(&v)) {
                    return Err(bad(format!("filter.classification.{name} must be between 1 and 5")));
                }
            }
            if let (Some(a), Some(b)) = (c.min_stars, c.max_stars)
                && a > b
            {
                return Err(bad("filter.classification.minStars must not exceed maxStars"));
            }
            q.classification = Some(crate::catalog::query::ClassificationQuery {
                types: c.types.unwrap_or_default().into_iter().map(Into::into).collect(),
                min_stars: c.min_stars,
                max_stars: c.max_stars,
            });
        }
        if let Some(c) = self.capacity {
            for (name, v) in [
                ("minPeople", c.min_people),
                ("minRooms", c.min_rooms),
                ("minPitches", c.min_pitches),
                ("minUnits", c.min_units),
            ] {
                if v.is_some_and(|v| v < 0) {
                    return Err(bad(format!("filter.capacity.{name} must not be negative")));
                }
            }
            q.capacity = Some(crate::catalog::query::CapacityQuery {
                min_people: c.min_people,
                min_rooms: c.min_rooms,
                min_pitches: c.min_pitches,
                min_units: c.min_units,
            });
        }
        Ok(q)
    }
}
