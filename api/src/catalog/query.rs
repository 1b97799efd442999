//! Filtering and ordering the catalog's offers: the service behind `offers(filter)`, the layers
//! and the feeds. Indexes narrow the candidates (text, R-trees, the name order), predicates check
//! the rest; a page reads only as far as it needs, and the total is counted only when asked for.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entities::vocab::OfferKind;
use uuid::Uuid;

use super::records::point_inside;
use super::{Catalog, OfferRecord};
use crate::error::Error;

/// The largest `near` radius, in metres.
pub const MAX_RADIUS_METERS: f64 = 200_000.0;

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
    pub kinds: Vec<OfferKind>,
    /// Theme codes (any of).
    pub themes: Vec<String>,
    /// INSEE codes (any of).
    pub communes: Vec<String>,
    /// Only the corrélats of this totem.
    pub totem: Option<Uuid>,
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
    /// Leave this offer out (an offer's own `nearby`).
    pub except: Option<Uuid>,
    /// Classified accommodation.
    pub classification: Option<ClassificationQuery>,
    /// Accommodation with at least this capacity.
    pub capacity: Option<CapacityQuery>,
}

/// Classified accommodation: any of the types (all when empty), stars within bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassificationQuery {
    /// Types of establishment.
    pub types: Vec<entities::vocab::AccommodationType>,
    /// At least this many stars.
    pub min_stars: Option<i32>,
    /// At most this many stars.
    pub max_stars: Option<i32>,
}

impl ClassificationQuery {
    fn keeps(&self, o: &OfferRecord) -> bool {
        let Some(c) = o.classification.as_deref() else { return false };
        (self.types.is_empty() || self.types.contains(&c.typology))
            && self.min_stars.is_none_or(|m| c.stars.is_some_and(|s| s >= m))
            && self.max_stars.is_none_or(|m| c.stars.is_some_and(|s| s <= m))
    }
}

/// Accommodation with at least these figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapacityQuery {
    /// People.
    pub min_people: Option<i32>,
    /// Rooms.
    pub min_rooms: Option<i32>,
    /// Pitches.
    pub min_pitches: Option<i32>,
    /// Units.
    pub min_units: Option<i32>,
}

impl CapacityQuery {
    fn keeps(&self, o: &OfferRecord) -> bool {
        let Some(c) = o.capacity.as_deref() else { return false };
        let at_least = |min: Option<i32>, v: Option<i32>| min.is_none_or(|m| v.is_some_and(|v| v >= m));
        at_least(self.min_people, c.people)
            && at_least(self.min_rooms, c.rooms)
            && at_least(self.min_pitches, c.pitches)
            && at_least(self.min_units, c.units)
    }
}

/// A selected offer.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The offer.
    pub record: Arc<OfferRecord>,
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
    pub fn of(hit: &Hit) -> SortKey {
        let o = &hit.record;
        match (hit.distance, hit.score) {
            (Some(v), _) => SortKey::Distance { v, id: o.id_string() },
            (None, Some(v)) => SortKey::Score { v, n: o.sort_name.to_string(), id: o.id_string() },
            (None, None) => SortKey::Name { n: o.sort_name.to_string(), id: o.id_string() },
        }
    }
}

fn paris_local(t: DateTime<Utc>) -> chrono::NaiveDateTime {
    t.with_timezone(&chrono_tz::Europe::Paris).naive_local()
}

/// One page of a selection.
#[derive(Debug)]
pub struct Selected {
    /// The page, in order.
    pub hits: Vec<Hit>,
    /// Whether more matches come after it.
    pub has_next: bool,
}

/// How a selection is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Distance,
    Score,
    Name,
}

fn order_of(q: &OfferQuery) -> Order {
    if q.near.is_some() {
        Order::Distance
    } else if q.text.is_some() {
        Order::Score
    } else {
        Order::Name
    }
}

fn cursor_parts(key: &SortKey) -> Result<(f64, String, Uuid), Error> {
    let bad = || Error::BadUserInput("after: not a cursor of this API".into());
    let (v, n, id) = match key {
        SortKey::Distance { v, id } => (*v, String::new(), id),
        SortKey::Score { v, n, id } => (f64::from(*v), n.clone(), id),
        SortKey::Name { n, id } => (0.0, n.clone(), id),
    };
    Ok((v, n, Uuid::parse_str(id).map_err(|_| bad())?))
}

impl Catalog {
    /// Selects and orders offers (by distance under `near`, by relevance under `text`, else by
    /// name) and returns the `first` after the cursor `after`. A cursor of another ordering is
    /// `BAD_USER_INPUT`.
    pub fn select(&self, q: &OfferQuery, after: Option<&SortKey>, first: usize) -> Result<Selected, Error> {
        let order = order_of(q);
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
        }
        let want = first.saturating_add(1);
        let open_at = q.open_at.map(paris_local);
        let mut hits: Vec<Hit> = match order {
            Order::Distance => {
                let Some(n) = q.near else { return Ok(Selected { hits: Vec::new(), has_next: false }) };
                let after = after.map(cursor_parts).transpose()?;
                self.index()
                    .nearest([n.lon, n.lat], n.radius_meters)
                    .filter(|(id, d)| {
                        after.as_ref().is_none_or(|(v, _, aid)| d.total_cmp(v).then(id.cmp(aid)) == Ordering::Greater)
                    })
                    .filter_map(|(id, d)| self.get(&id).map(|r| (r, d)))
                    .filter(|(r, _)| self.matches(r, q, open_at))
                    .take(want)
                    .map(|(r, d)| Hit { record: r.clone(), distance: Some(d), score: None })
                    .collect()
            }
            Order::Score => {
                let mut all = self.text_matches(q, open_at);
                if let Some(key) = after {
                    all.retain(|h| compare_to_key(h, key) == Ordering::Greater);
                }
                let by = |a: &Hit, b: &Hit| compare_score(a, b);
                if all.len() > want {
                    all.select_nth_unstable_by(want - 1, by);
                    all.truncate(want);
                }
                all.sort_unstable_by(by);
                all
            }
            Order::Name => {
                let key = after.map(cursor_parts).transpose()?.map(|(_, n, id)| (Arc::<str>::from(n), id));
                match self.candidates(q) {
                    Some(mut c) => {
                        c.retain(|r| self.matches(r, q, open_at));
                        c.sort_by(|a, b| a.sort_name.cmp(&b.sort_name).then(a.id.cmp(&b.id)));
                        c.into_iter()
                            .filter(|r| key.as_ref().is_none_or(|k| (r.sort_name.clone(), r.id) > *k))
                            .take(want)
                            .map(|r| Hit { record: r.clone(), distance: None, score: None })
                            .collect()
                    }
                    None => {
                        let iter: Box<dyn Iterator<Item = &Arc<OfferRecord>>> = match &key {
                            Some(k) => Box::new(self.by_name_after(k)),
                            None => Box::new(self.by_name()),
                        };
                        iter.filter(|r| self.matches(r, q, open_at))
                            .take(want)
                            .map(|r| Hit { record: r.clone(), distance: None, score: None })
                            .collect()
                    }
                }
            }
        };
        let has_next = hits.len() > first;
        hits.truncate(first);
        Ok(Selected { hits, has_next })
    }

    /// How many offers a query matches, over every page.
    pub fn count(&self, q: &OfferQuery) -> usize {
        let open_at = q.open_at.map(paris_local);
        match order_of(q) {
            Order::Distance => match q.near {
                // Only the circle: count the index's points, no record is looked at.
                Some(n) if is_unfiltered(q) && q.text.is_none() && q.bbox.is_none() && q.totem.is_none() => {
                    self.index().count_within([n.lon, n.lat], n.radius_meters)
                }
                Some(n) => self
                    .index()
                    .nearest([n.lon, n.lat], n.radius_meters)
                    .filter_map(|(id, _)| self.get(&id))
                    .filter(|r| self.matches(r, q, open_at))
                    .count(),
                None => 0,
            },
            Order::Score => self.text_matches(q, open_at).len(),
            Order::Name => match self.candidates(q) {
                Some(c) => c.into_iter().filter(|r| self.matches(r, q, open_at)).count(),
                None if is_unfiltered(q) => self.len(),
                None => self.by_name().filter(|r| self.matches(r, q, open_at)).count(),
            },
        }
    }

    /// The offers an index gives for a query ordered by name (a box, a totem), if any does.
    fn candidates(&self, q: &OfferQuery) -> Option<Vec<&Arc<OfferRecord>>> {
        if let Some(b) = q.bbox {
            return Some(self.points_in(b));
        }
        if let Some(t) = q.totem {
            return Some(self.get(&t).map(|t| self.correlates_of(t).collect()).unwrap_or_default());
        }
        None
    }

    fn text_matches(&self, q: &OfferQuery, open_at: Option<chrono::NaiveDateTime>) -> Vec<Hit> {
        let Some(text) = &q.text else { return Vec::new() };
        self.index()
            .search(text)
            .into_iter()
            .filter_map(|(id, s)| self.get(&id).map(|r| (r, s)))
            .filter(|(r, _)| self.matches(r, q, open_at))
            .map(|(r, s)| Hit { record: r.clone(), distance: None, score: Some(s) })
            .collect()
    }

    /// Whether an offer passes every criterion of a query.
    fn matches(&self, o: &OfferRecord, q: &OfferQuery, open_at: Option<chrono::NaiveDateTime>) -> bool {
        if q.except == Some(o.id) {
            return false;
        }
        if !q.kinds.is_empty() && !q.kinds.contains(&o.kind) {
            return false;
        }
        if !q.themes.is_empty() && !o.themes.iter().any(|t| q.themes.iter().any(|q| **q == **t)) {
            return false;
        }
        if !q.communes.is_empty() && !o.commune.as_deref().is_some_and(|c| q.communes.iter().any(|q| q == c)) {
            return false;
        }
        if let Some(t) = q.totem
            && !self.get(&t).is_some_and(|t| t.correlates.contains(&o.id))
        {
            return false;
        }
        if let Some(b) = q.bbox
            && !point_inside(o.point, b)
        {
            return false;
        }
        if let Some(n) = q.near
            && super::index::distance([n.lon, n.lat], o.point) > n.radius_meters * (1.0 + 1e-9)
        {
            return false;
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
        if q.classification.as_ref().is_some_and(|c| !c.keeps(o)) {
            return false;
        }
        if q.capacity.is_some_and(|c| !c.keeps(o)) {
            return false;
        }
        true
    }

    /// The `first` offers within `radius_meters` of an offer, nearest first, itself excluded.
    pub fn nearby(&self, o: &OfferRecord, radius_meters: f64, kinds: &[OfferKind], first: usize) -> Vec<Hit> {
        let q = OfferQuery {
            near: Some(Near { lat: o.point[1], lon: o.point[0], radius_meters }),
            kinds: kinds.to_vec(),
            except: Some(o.id),
            ..Default::default()
        };
        self.select(&q, None, first).map(|s| s.hits).unwrap_or_default()
    }
}

fn is_unfiltered(q: &OfferQuery) -> bool {
    q.kinds.is_empty()
        && q.themes.is_empty()
        && q.communes.is_empty()
        && q.from.is_none()
        && q.to.is_none()
        && q.open_at.is_none()
        && q.updated_since.is_none()
        && q.labels.is_empty()
        && q.accessible.is_none()
        && q.except.is_none()
        && q.classification.is_none()
        && q.capacity.is_none()
}

/// By score (descending), then name, then id.
fn compare_score(a: &Hit, b: &Hit) -> Ordering {
    b.score
        .unwrap_or(0.0)
        .total_cmp(&a.score.unwrap_or(0.0))
        .then_with(|| a.record.sort_name.cmp(&b.record.sort_name))
        .then_with(|| a.record.id.cmp(&b.record.id))
}

/// Where a hit stands against a cursor's key of the same ordering.
fn compare_to_key(h: &Hit, key: &SortKey) -> Ordering {
    let o = &h.record;
    let id = o.id_string();
    match key {
        SortKey::Distance { v, id: kid } => h.distance.unwrap_or(0.0).total_cmp(v).then_with(|| id.as_str().cmp(kid)),
        SortKey::Score { v, n, id: kid } => v
            .total_cmp(&h.score.unwrap_or(0.0))
            .then_with(|| (*o.sort_name).cmp(n.as_str()))
            .then_with(|| id.as_str().cmp(kid)),
        SortKey::Name { n, id: kid } => (*o.sort_name).cmp(n.as_str()).then_with(|| id.as_str().cmp(kid)),
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

    fn ids(hits: &[Hit]) -> Vec<Uuid> {
        hits.iter().map(|h| h.record.id).collect()
    }

    #[test]
    fn pages_are_slices_of_the_whole_ordering() {
        let c = territory();
        let near = Near { lat: 50.3836, lon: 3.4265, radius_meters: 30_000.0 };
        // The reference order of `near`, computed from the records alone.
        let mut by_distance: Vec<(f64, Uuid)> = c
            .by_name()
            .map(|o| (super::super::index::distance([near.lon, near.lat], o.point), o.id))
            .filter(|(d, _)| *d <= near.radius_meters)
            .collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let queries = [
            OfferQuery { near: Some(near), ..Default::default() },
            OfferQuery { text: Some("cite".into()), ..Default::default() },
            OfferQuery::default(),
            OfferQuery { themes: vec!["nature".into()], ..Default::default() },
        ];
        for q in &queries {
            let all = c.select(q, None, usize::MAX - 1).expect("selection");
            assert!(!all.has_next);
            assert_eq!(all.hits.len(), c.count(q), "{q:?}");
            assert!(all.hits.len() > 5, "{q:?} matches {}", all.hits.len());
            if q.near.is_some() {
                assert_eq!(ids(&all.hits), by_distance.iter().map(|(_, id)| *id).collect::<Vec<_>>());
            }
            for first in [1, 3, 7] {
                let mut walked = Vec::new();
                let mut after: Option<SortKey> = None;
                loop {
                    let page = c.select(q, after.as_ref(), first).expect("page");
                    assert!(page.hits.len() <= first);
                    walked.extend(page.hits.iter().cloned());
                    match page.hits.last() {
                        Some(last) if page.has_next => after = Some(SortKey::of(last)),
                        _ => break,
                    }
                }
                assert_eq!(ids(&walked), ids(&all.hits), "{q:?} by {first}");
            }
        }
        // A cursor of another ordering is refused.
        let name_cursor = SortKey::of(&c.select(&queries[2], None, 1).expect("page").hits[0]);
        assert!(matches!(c.select(&queries[0], Some(&name_cursor), 5), Err(Error::BadUserInput(_))));
    }
}
