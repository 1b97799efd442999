//! Filtering and ordering the catalog's offers: the service behind `offers(filter)`, the layers
//! and the feeds. Indexes narrow the candidates (text, R-tree), predicates check the rest.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use rstar::AABB;

use super::{Catalog, OfferRecord};

/// The largest `near` radius, in metres.
pub const MAX_RADIUS_METERS: f64 = 200_000.0;
/// Metres per degree of latitude.
const METERS_PER_DEGREE: f64 = 111_320.0;

/// A circle on the ground.
#[derive(Debug, Clone, Copy)]
pub struct Near {
    /// Latitude of the centre.
    pub lat: f64,
    /// Longitude of the centre.
    pub lon: f64,
    /// Radius in metres.
    pub radius_meters: f64,
}

/// What to select, already validated.
#[derive(Debug, Clone, Default)]
pub struct OfferQuery {
    /// Kinds (any of).
    pub kinds: Vec<String>,
    /// Theme codes (any of).
    pub themes: Vec<String>,
    /// INSEE codes (any of).
    pub communes: Vec<String>,
    /// Only the corrélats of this totem (catalog index).
    pub totem: Option<usize>,
    /// Free text.
    pub text: Option<String>,
    /// Within a circle, ordered by distance.
    pub near: Option<Near>,
    /// Point inside `(west, south, east, north)`.
    pub bbox: Option<[f64; 4]>,
    /// Events with an occurrence ending at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Events with an occurrence starting at or before this.
    pub to: Option<DateTime<Utc>>,
    /// Open at this instant (evaluated in Europe/Paris).
    pub open_at: Option<DateTime<Utc>>,
    /// Changed at or after this.
    pub updated_since: Option<DateTime<Utc>>,
    /// Labels (all of).
    pub labels: Vec<String>,
    /// Accessible (or not).
    pub accessible: Option<bool>,
}

/// A selected offer.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Catalog index.
    pub index: usize,
    /// Distance to the `near` centre, in metres.
    pub distance: Option<f64>,
    /// Text score.
    pub score: Option<f32>,
}

/// The key a result list is ordered by; cursors carry it so paging is stable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "k")]
pub enum SortKey {
    /// By distance, then id.
    #[serde(rename = "d")]
    Distance {
        /// Metres.
        v: f64,
        /// Offer id.
        id: String,
    },
    /// By score (descending), then name, then id.
    #[serde(rename = "s")]
    Score {
        /// Score.
        v: f32,
        /// Folded name.
        n: String,
        /// Offer id.
        id: String,
    },
    /// By folded name, then id.
    #[serde(rename = "n")]
    Name {
        /// Folded name.
        n: String,
        /// Offer id.
        id: String,
    },
}

impl SortKey {
    /// The key of a hit in the ordering of a query.
    pub fn of(catalog: &Catalog, hit: &Hit) -> SortKey {
        let o = &catalog.offers[hit.index];
        match (hit.distance, hit.score) {
            (Some(v), _) => SortKey::Distance { v, id: o.id.clone() },
            (None, Some(v)) => SortKey::Score { v, n: o.sort_name.clone(), id: o.id.clone() },
            (None, None) => SortKey::Name { n: o.sort_name.clone(), id: o.id.clone() },
        }
    }

    /// Order of two keys of the same kind; `None` when the kinds differ (a cursor of another query).
    pub fn compare(&self, other: &SortKey) -> Option<Ordering> {
        match (self, other) {
            (SortKey::Distance { v: a, id: ia }, SortKey::Distance { v: b, id: ib }) => {
                Some(a.total_cmp(b).then_with(|| ia.cmp(ib)))
            }
            (SortKey::Score { v: a, n: na, id: ia }, SortKey::Score { v: b, n: nb, id: ib }) => {
                Some(b.total_cmp(a).then_with(|| na.cmp(nb)).then_with(|| ia.cmp(ib)))
            }
            (SortKey::Name { n: na, id: ia }, SortKey::Name { n: nb, id: ib }) => {
                Some(na.cmp(nb).then_with(|| ia.cmp(ib)))
            }
            _ => None,
        }
    }
}

fn distance_meters(a: [f64; 2], b: [f64; 2]) -> f64 {
    Haversine.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
}

fn paris_local(t: DateTime<Utc>) -> chrono::NaiveDateTime {
    t.with_timezone(&chrono_tz::Europe::Paris).naive_local()
}

impl Catalog {
    /// Selects and orders offers: by distance under `near`, by relevance under `text`, else by name.
    pub fn select(&self, q: &OfferQuery) -> Vec<Hit> {
        let mut hits: Vec<Hit> = if let Some(text) = &q.text {
            self.text.search(text).into_iter().map(|(index, s)| Hit { index, distance: None, score: Some(s) }).collect()
        } else if let Some(n) = q.near {
            let dlat = n.radius_meters / METERS_PER_DEGREE;
            let dlon = n.radius_meters / (METERS_PER_DEGREE * n.lat.to_radians().cos().max(0.01));
            let envelope = AABB::from_corners([n.lon - dlon, n.lat - dlat], [n.lon + dlon, n.lat + dlat]);
            self.points
                .locate_in_envelope(&envelope)
                .map(|p| Hit { index: p.data, distance: None, score: None })
                .collect()
        } else if let Some([w, s, e, north]) = q.bbox {
            let mut v: Vec<Hit> = self
                .points
                .locate_in_envelope(&AABB::from_corners([w, s], [e, north]))
                .map(|p| Hit { index: p.data, distance: None, score: None })
                .collect();
            v.sort_by_key(|h| h.index);
            v
        } else if let Some(t) = q.totem {
            let mut v: Vec<Hit> =
                self.offers[t].correlates.iter().map(|&index| Hit { index, distance: None, score: None }).collect();
            v.sort_by_key(|h| h.index);
            v
        } else {
            (0..self.offers.len()).map(|index| Hit { index, distance: None, score: None }).collect()
        };
        let open_at = q.open_at.map(paris_local);
        hits.retain_mut(|h| {
            let o = &self.offers[h.index];
            if let Some(n) = q.near {
                let d = distance_meters([n.lon, n.lat], o.point);
                if d > n.radius_meters {
                    return false;
                }
                h.distance = Some(d);
            }
            self.matches(o, h.index, q, open_at)
        });
        if q.near.is_some() {
            hits.sort_by(|a, b| {
                let (oa, ob) = (&self.offers[a.index], &self.offers[b.index]);
                a.distance.unwrap_or(0.0).total_cmp(&b.distance.unwrap_or(0.0)).then_with(|| oa.id.cmp(&ob.id))
            });
            // Under `near` the distance orders; the text score only selected.
            for h in &mut hits {
                h.score = None;
            }
        } else if q.text.is_some() {
            hits.sort_by(|a, b| SortKey::of(self, a).compare(&SortKey::of(self, b)).unwrap_or(Ordering::Equal));
        }
        hits
    }

    fn matches(&self, o: &OfferRecord, index: usize, q: &OfferQuery, open_at: Option<chrono::NaiveDateTime>) -> bool {
        if !q.kinds.is_empty() && !q.kinds.contains(&o.kind) {
            return false;
        }
        if !q.themes.is_empty() && !o.themes.iter().any(|t| q.themes.contains(t)) {
            return false;
        }
        if !q.communes.is_empty() && !o.commune.as_ref().is_some_and(|c| q.communes.contains(c)) {
            return false;
        }
        if let Some(t) = q.totem
            && !self.offers[t].correlates.contains(&index)
        {
            return false;
        }
        if let Some([w, s, e, n]) = q.bbox {
            let [x, y] = o.point;
            if x < w || x > e || y < s || y > n {
                return false;
            }
        }
        if q.from.is_some() || q.to.is_some() {
            let overlaps = o
                .occurrences
                .iter()
                .any(|occ| q.from.is_none_or(|from| occ.end >= from) && q.to.is_none_or(|to| occ.start <= to));
            if !overlaps {
                return false;
            }
        }
        if let Some(at) = open_at
            && !o.schedule.as_ref().is_some_and(|s| s.is_open(at))
        {
            return false;
        }
        if let Some(since) = q.updated_since
            && o.updated_at < since
        {
            return false;
        }
        if !q.labels.iter().all(|l| o.labels.contains(l)) {
            return false;
        }
        if let Some(a) = q.accessible
            && o.is_accessible() != a
        {
            return false;
        }
        true
    }

    /// Offers within `radius_meters` of an offer, nearest first, itself excluded.
    pub fn nearby(&self, index: usize, radius_meters: f64, kinds: &[String]) -> Vec<Hit> {
        let [lon, lat] = self.offers[index].point;
        let q =
            OfferQuery { near: Some(Near { lat, lon, radius_meters }), kinds: kinds.to_vec(), ..Default::default() };
        self.select(&q).into_iter().filter(|h| h.index != index).collect()
    }
}
