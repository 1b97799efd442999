//! Filtering and ordering the catalog's offers: the service behind `offers(filter)`, the layers
//! and the feeds. Indexes narrow the candidates (text, R-tree), predicates check the rest.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use rstar::AABB;

use super::{Catalog, OfferRecord};
use crate::error::Error;

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
}

fn distance_meters(a: [f64; 2], b: [f64; 2]) -> f64 {
    Haversine.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
}

fn paris_local(t: DateTime<Utc>) -> chrono::NaiveDateTime {
    t.with_timezone(&chrono_tz::Europe::Paris).naive_local()
}

/// One page of a selection.
#[derive(Debug)]
pub struct Selected {
    /// Every offer the query matches.
    pub total: usize,
    /// The matches that come at or before the cursor.
    pub before: usize,
    /// The page, in order.
    pub hits: Vec<Hit>,
}

/// How a selection is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// By distance under `near`, then id.
    Distance,
    /// By text score (descending) under `text`, then name, then id.
    Score,
    /// By name, then id: the catalog's own order, so by index.
    Name,
}

impl Catalog {
    /// Selects and orders offers (by distance under `near`, by relevance under `text`, else by
    /// name) and returns the `first` after the cursor `after`. Only the page is sorted: the rest
    /// of the matches are counted and partitioned, so a page out of many matches stays cheap.
    /// A cursor of another ordering is `BAD_USER_INPUT`.
    pub fn select(&self, q: &OfferQuery, after: Option<&SortKey>, first: usize) -> Result<Selected, Error> {
        let (mut hits, order) = self.matching(q);
        let total = hits.len();
        if let Some(key) = after {
            let same = matches!(
                (order, key),
                (Order::Distance, SortKey::Distance { .. })
                    | (Order::Score, SortKey::Score { .. })
                    | (Order::Name, SortKey::Name { .. })
            );
            if !same {
                return Err(Error::BadUserInput("after: the cursor belongs to a differently ordered query".into()));
            }
            hits.retain(|h| self.compare_to_key(h, key) == Ordering::Greater);
        }
        let before = total - hits.len();
        let by = |a: &Hit, b: &Hit| self.compare_hits(order, a, b);
        if hits.len() > first {
            if first == 0 {
                hits.clear();
            } else {
                hits.select_nth_unstable_by(first - 1, by);
                hits.truncate(first);
            }
        }
        if order != Order::Name {
            hits.sort_unstable_by(by);
        }
        Ok(Selected { total, before, hits })
    }

    /// Every match of a query, unordered unless by name, and the order they are to be given in.
    fn matching(&self, q: &OfferQuery) -> (Vec<Hit>, Order) {
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
            v.sort_unstable_by_key(|h| h.index);
            v
        } else if let Some(t) = q.totem {
            let mut v: Vec<Hit> =
                self.offers[t].correlates.iter().map(|&index| Hit { index, distance: None, score: None }).collect();
            v.sort_unstable_by_key(|h| h.index);
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
                // Under `near` the distance orders; the text score only selected.
                h.score = None;
            }
            self.matches(o, h.index, q, open_at)
        });
        let order = if q.near.is_some() {
            Order::Distance
        } else if q.text.is_some() {
            Order::Score
        } else {
            Order::Name
        };
        (hits, order)
    }

    /// The order of two hits of one selection.
    fn compare_hits(&self, order: Order, a: &Hit, b: &Hit) -> Ordering {
        let (oa, ob) = (&self.offers[a.index], &self.offers[b.index]);
        match order {
            Order::Distance => {
                a.distance.unwrap_or(0.0).total_cmp(&b.distance.unwrap_or(0.0)).then_with(|| oa.id.cmp(&ob.id))
            }
            Order::Score => b
                .score
                .unwrap_or(0.0)
                .total_cmp(&a.score.unwrap_or(0.0))
                .then_with(|| oa.sort_name.cmp(&ob.sort_name))
                .then_with(|| oa.id.cmp(&ob.id)),
            Order::Name => a.index.cmp(&b.index),
        }
    }

    /// Where a hit stands against a cursor's key of the same ordering (as `SortKey::compare`).
    fn compare_to_key(&self, h: &Hit, key: &SortKey) -> Ordering {
        let o = &self.offers[h.index];
        match key {
            SortKey::Distance { v, id } => {
                h.distance.unwrap_or(0.0).total_cmp(v).then_with(|| o.id.as_str().cmp(id.as_str()))
            }
            SortKey::Score { v, n, id } => v
                .total_cmp(&h.score.unwrap_or(0.0))
                .then_with(|| o.sort_name.as_str().cmp(n.as_str()))
                .then_with(|| o.id.as_str().cmp(id.as_str())),
            SortKey::Name { n, id } => {
                o.sort_name.as_str().cmp(n.as_str()).then_with(|| o.id.as_str().cmp(id.as_str()))
            }
        }
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

    /// The `first` offers within `radius_meters` of an offer, nearest first, itself excluded.
    pub fn nearby(&self, index: usize, radius_meters: f64, kinds: &[String], first: usize) -> Vec<Hit> {
        let [lon, lat] = self.offers[index].point;
        let q =
            OfferQuery { near: Some(Near { lat, lon, radius_meters }), kinds: kinds.to_vec(), ..Default::default() };
        let page = self.select(&q, None, first.saturating_add(1)).map(|s| s.hits).unwrap_or_default();
        page.into_iter().filter(|h| h.index != index).take(first).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn territory() -> Catalog {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let db = sea_orm::Database::connect("sqlite::memory:").await.expect("sqlite");
            crate::db::migrate(&db).await.expect("migrations");
            crate::db::seed(&db).await.expect("territory");
            Catalog::load(&db).await.expect("catalog")
        })
    }

    fn ids(c: &Catalog, hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| c.offers[h.index].id.clone()).collect()
    }

    #[test]
    fn pages_are_slices_of_the_whole_ordering() {
        let c = territory();
        let near = Near { lat: 50.3836, lon: 3.4265, radius_meters: 30_000.0 };
        // The reference order of `near`, computed from the records alone.
        let mut by_distance: Vec<(f64, String)> = c
            .offers
            .iter()
            .map(|o| (distance_meters([near.lon, near.lat], o.point), o.id.clone()))
            .filter(|(d, _)| *d <= near.radius_meters)
            .collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let queries = [
            OfferQuery { near: Some(near), ..Default::default() },
            OfferQuery { text: Some("cite".into()), ..Default::default() },
            OfferQuery::default(),
        ];
        for q in &queries {
            let all = c.select(q, None, usize::MAX).expect("selection");
            assert_eq!((all.total, all.before, all.hits.len()), (all.hits.len(), 0, all.total));
            assert!(all.total > 10, "{q:?} matches {}", all.total);
            if q.near.is_some() {
                assert_eq!(ids(&c, &all.hits), by_distance.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
            }
            for first in [1, 3, 7] {
                let mut walked = Vec::new();
                let mut after: Option<SortKey> = None;
                loop {
                    let page = c.select(q, after.as_ref(), first).expect("page");
                    assert_eq!((page.total, page.before), (all.total, walked.len()));
                    assert!(page.hits.len() <= first);
                    walked.extend(page.hits.iter().copied());
                    match page.hits.last() {
                        Some(last) if walked.len() < all.total => after = Some(SortKey::of(&c, last)),
                        _ => break,
                    }
                }
                assert_eq!(ids(&c, &walked), ids(&c, &all.hits), "{q:?} by {first}");
            }
        }
        // A cursor of another ordering is refused.
        let name_cursor = SortKey::of(&c, &c.select(&queries[2], None, 1).expect("page").hits[0]);
        assert!(matches!(c.select(&queries[0], Some(&name_cursor), 5), Err(Error::BadUserInput(_))));
    }
}
