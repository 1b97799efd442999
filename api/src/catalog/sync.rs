//! Reading the catalog from the database: the whole published offer at start-up, the offers a
//! set of changes touched, and the change rows since a version (what other instances committed).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entities::prelude::*;
use entities::vocab::{OfferStatus, RevisionAction};
use entities::{
    catalog_change, event_occurrence, media, offer, offer_correlate, offer_theme, revision, route, route_stage,
};
use futures::StreamExt;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::records::{
    Children, CommuneRecord, MediaItem, Occurrence, OfferRecord, Records, RouteInfo, Texts, ThemeRecord,
};
use crate::error::{Error, Result};

/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

/// Everything a snapshot is built from.
pub struct Loaded {
    /// The catalog version read before the rows.
    pub version: i64,
    /// The published offers (each in its own allocation from the start: moving 500,000 records
    /// into shared ones once built took both copies' memory at once).
    pub offers: Vec<Arc<OfferRecord>>,
    /// The communes.
    pub communes: Vec<CommuneRecord>,
    /// The themes, in display order.
    pub themes: Vec<ThemeRecord>,
}

/// The children of offers, by offer id, from link rows.
#[derive(Default)]
struct ChildRows {
    themes: HashMap<String, Vec<String>>,
    correlates: HashMap<String, Vec<(i32, Uuid)>>,
    occurrences: HashMap<String, Vec<Occurrence>>,
    routes: HashMap<String, route::Model>,
    stages: HashMap<String, Vec<(i32, Uuid)>>,
    media: HashMap<String, Vec<media::Model>>,
}

impl ChildRows {
    fn add_theme(&mut self, t: offer_theme::Model) {
        self.themes.entry(t.offer_id).or_default().push(t.theme_code);
    }
    fn add_correlate(&mut self, c: offer_correlate::Model) {
        if let Ok(o) = Uuid::parse_str(&c.offer_id) {
            self.correlates.entry(c.totem_id).or_default().push((c.position, o));
        }
    }
    fn add_occurrence(&mut self, o: event_occurrence::Model) {
        self.occurrences.entry(o.offer_id).or_default().push(Occurrence { start: o.starts_at, end: o.ends_at });
    }
    fn add_stage(&mut self, s: route_stage::Model) {
        if let Ok(o) = Uuid::parse_str(&s.offer_id) {
            self.stages.entry(s.route_id).or_default().push((s.position, o));
        }
    }

    /// The children of one offer.
    fn take(&mut self, id: &str) -> Children {
        let mut correlates = self.correlates.remove(id).unwrap_or_default();
        correlates.sort();
        let mut occurrences = self.occurrences.remove(id).unwrap_or_default();
        occurrences.sort();
        let route = self.routes.remove(id).map(|r| {
            let mut stages = self.stages.remove(id).unwrap_or_default();
            stages.sort();
            RouteInfo {
                stages: stages.into_iter().map(|(_, o)| o).collect(),
                length_meters: r.length_meters,
                practices: r.practices.0,
                difficulty: r.difficulty,
                line_precision: r.line_precision,
            }
        });
        let mut media = self.media.remove(id).unwrap_or_default();
        media.sort_by_key(|m| m.position);
        Children {
            themes: self.themes.remove(id).unwrap_or_default(),
            correlates: correlates.into_iter().map(|(_, o)| o).collect(),
            occurrences,
            route,
            media: media
                .into_iter()
                .map(|m| MediaItem {
                    id: m.id.into(),
                    kind: m.kind,
                    url: m.url.into(),
                    title: m.title.as_ref().map(Texts::from).unwrap_or_default(),
                    licence: m.licence.map(Box::from),
                    credit: m.credit.map(Box::from),
                    mime_type: m.mime_type.map(Box::from),
                })
                .collect(),
        }
    }
}

/// Reads the published offer, the communes and the themes.
pub async fn load_all(db: &sea_orm::DatabaseConnection) -> Result<Loaded> {
    load_all_in(db, read_parallelism(db)).await
}

/// [`load_all`], reading the offers in `n` ranges side by side: of row ids on SQLite, of ids
/// elsewhere.
pub async fn load_all_in(db: &sea_orm::DatabaseConnection, n: usize) -> Result<Loaded> {
    load_ranges(db, split(db, n).await?).await
}

/// [`load_all`], reading the offers of each range side by side.
async fn load_ranges(db: &sea_orm::DatabaseConnection, ranges: Vec<Range>) -> Result<Loaded> {
    let started = std::time::Instant::now();
    let version = entities::write::catalog_version(db).await?;
    // The link tables at once, on as many connections as the pool lends.
    let (themes, correlates, occurrences, routes, stages, media) = tokio::try_join!(
        OfferTheme::find().all(db),
        OfferCorrelate::find().all(db),
        EventOccurrence::find().all(db),
        Route::find().all(db),
        RouteStage::find().all(db),
        Media::find().all(db),
    )?;
    let mut children = ChildRows::default();
    for t in themes {
        children.add_theme(t);
    }
    for c in correlates {
        children.add_correlate(c);
    }
    for o in occurrences {
        children.add_occurrence(o);
    }
    for r in routes {
        children.routes.insert(r.offer_id.clone(), r);
    }
    for s in stages {
        children.add_stage(s);
    }
    for m in media {
        children.media.entry(m.offer_id.clone()).or_default().push(m);
    }
    tracing::debug!(ms = started.elapsed().as_millis(), "catalog: link rows read");
    // Rows are converted as they stream in, so the database rows of the whole offer are never all
    // in memory at once (at 500,000 offers they would be gigabytes the allocator keeps). The
    // ranges are read side by side, one connection and one task each: decoding and converting
    // rows is most of a start-up, and it then runs on every core. They are read at slightly
    // different moments; whatever is committed after `version` is applied afterwards from the
    // change rows, as for any catch-up.
    let children = Arc::new(std::sync::Mutex::new(children));
    let mut parts = tokio::task::JoinSet::new();
    for range in ranges {
        let (db, children) = (db.clone(), children.clone());
        parts.spawn(async move { load_range(&db, range, &children).await });
    }
    let mut offers = Vec::new();
    while let Some(part) = parts.join_next().await {
        offers.extend(part.map_err(|e| Error::Internal(format!("reading the catalog: {e}")))??);
    }
    // An offer deleted and written again under its id while the ranges were read (a purge, then
    // a new row) may have been read twice, at its old row id and at its new one: one copy is
    // kept, and the change rows after `version` bring its latest state.
    let mut seen = std::collections::HashSet::with_capacity(offers.len());
    offers.retain(|o| seen.insert(o.id));
    let (communes, themes) = load_reference(db).await?;
    Ok(Loaded { version, offers, communes, themes })
}

/// Reads the communes and the themes (in display order).
pub async fn load_reference(db: &sea_orm::DatabaseConnection) -> Result<(Vec<CommuneRecord>, Vec<ThemeRecord>)> {
    let communes =
        Commune::find().all(db).await?.into_iter().map(CommuneRecord::from_row).collect::<Result<Vec<_>>>()?;
    let mut themes = Theme::find().order_by_asc(entities::theme::Column::Position).all(db).await?;
    themes.sort_by_key(|t| t.position);
    Ok((communes, themes.into_iter().map(ThemeRecord::from_row).collect()))
}

/// How many ranges (of row ids or ids) the catalog is read in: one per core, within the
/// connections a SQLite pool holds.
fn read_parallelism(db: &sea_orm::DatabaseConnection) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let most = if db.get_database_backend() == sea_orm::DbBackend::Sqlite { 3 } else { 8 };
    cores.clamp(1, most)
}

/// A part of the offers table, read on a connection of its own.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Range {
    /// Ids in `[from, to)` (unbounded where `None`).
    Ids(Option<String>, Option<String>),
    /// SQLite row ids from `first` to `last`, both included. SQLite keeps a table's rows in row
    /// id order and the text ids in a separate index: reading by ids would look up every row in
    /// the table (a seek and often a page read each), reading by row ids walks the table in its
    /// own order.
    RowIds { first: i64, last: i64 },
}

/// The offers table split into `n` ranges: row ids on SQLite, ids elsewhere.
async fn split(db: &sea_orm::DatabaseConnection, n: usize) -> Result<Vec<Range>> {
    let n = n.max(1);
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(id_ranges(n));
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT min(rowid) AS low, max(rowid) AS high FROM offers",
        ))
        .await?;
    let bound = |name: &str| -> Result<Option<i64>> {
        Ok(match &row {
            Some(row) => row.try_get::<Option<i64>>("", name)?,
            None => None,
        })
    };
    let (Some(low), Some(high)) = (bound("low")?, bound("high")?) else {
        return Ok(vec![Range::RowIds { first: 0, last: 0 }]);
    };
    Ok(rowid_bounds(low, high, n))
}

/// `low..=high` split into at most `n` ranges of row ids, in order and without gaps.
fn rowid_bounds(low: i64, high: i64, n: usize) -> Vec<Range> {
    let span = (i128::from(high) - i128::from(low) + 1).max(1);
    let n = i128::try_from(n.max(1)).unwrap_or(1).min(span);
    // Within `low..=high + 1` for every `k` in `0..=n`, so always an `i64` but at `k = n`.
    let at = |k: i128| i128::from(low) + span * k / n;
    (0..n)
        .map(|k| Range::RowIds {
            first: i64::try_from(at(k)).unwrap_or(high),
            last: i64::try_from(at(k + 1) - 1).unwrap_or(high),
        })
        .collect()
}

/// Offer ids split into `n` ranges.
fn id_ranges(n: usize) -> Vec<Range> {
    let bounds = id_bounds(n);
    (0..=bounds.len())
        .map(|i| Range::Ids(i.checked_sub(1).map(|j| bounds[j].clone()), bounds.get(i).cloned()))
        .collect()
}

/// The ids that split offer ids into `n` ranges. Offer ids are UUIDs written in lowercase
/// hexadecimal, spread evenly by their first digit; every other string still falls in one range.
fn id_bounds(n: usize) -> Vec<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = n.clamp(1, 16);
    (1..n).map(|k| char::from(HEX[k * 16 / n]).to_string()).collect()
}

/// The published offers of one range, converted.
async fn load_range(
    db: &sea_orm::DatabaseConnection,
    range: Range,
    children: &std::sync::Mutex<ChildRows>,
) -> Result<Vec<Arc<OfferRecord>>> {
    use sea_orm::sea_query::Expr;
    let mut query = Offer::find()
        .filter(offer::Column::Status.eq(OfferStatus::Published))
        .filter(offer::Column::DeletedAt.is_null());
    match range {
        Range::Ids(from, to) => {
            if let Some(from) = from {
                query = query.filter(offer::Column::Id.gte(from));
            }
            if let Some(to) = to {
                query = query.filter(offer::Column::Id.lt(to));
            }
        }
        Range::RowIds { first, last } => {
            query = query.filter(Expr::cust_with_values("\"offers\".rowid BETWEEN ? AND ?", [first, last]));
        }
    }
    let mut records = Records::default();
    let mut offers = Vec::new();
    let mut stream = query.stream(db).await?;
    while let Some(row) = stream.next().await {
        let row = row?;
        let kids = children
            .lock()
            .map_err(|_| Error::Internal("reading the catalog: a reader panicked".into()))?
            .take(&row.id);
        offers.push(Arc::new(records.convert(row, kids)?));
    }
    Ok(offers)
}

/// The rows of some offers (whatever their status) with their children.
pub async fn load_offers<C: ConnectionTrait>(db: &C, ids: &[String]) -> Result<Vec<(offer::Model, Children)>> {
    let mut rows = Vec::with_capacity(ids.len());
    let mut children = ChildRows::default();
    for chunk in ids.chunks(CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        rows.extend(Offer::find().filter(offer::Column::Id.is_in(chunk.clone())).all(db).await?);
        for t in OfferTheme::find().filter(offer_theme::Column::OfferId.is_in(chunk.clone())).all(db).await? {
            children.add_theme(t);
        }
        for c in OfferCorrelate::find().filter(offer_correlate::Column::TotemId.is_in(chunk.clone())).all(db).await? {
            children.add_correlate(c);
        }
        for o in EventOccurrence::find().filter(event_occurrence::Column::OfferId.is_in(chunk.clone())).all(db).await? {
            children.add_occurrence(o);
        }
        for r in Route::find().filter(route::Column::OfferId.is_in(chunk.clone())).all(db).await? {
            children.routes.insert(r.offer_id.clone(), r);
        }
        for s in RouteStage::find().filter(route_stage::Column::RouteId.is_in(chunk.clone())).all(db).await? {
            children.add_stage(s);
        }
        for m in Media::find().filter(media::Column::OfferId.is_in(chunk)).all(db).await? {
            children.media.entry(m.offer_id.clone()).or_default().push(m);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let kids = children.take(&r.id);
            (r, kids)
        })
        .collect())
}

/// One offer's record whatever its status (a draft, an archived or deleted offer), for those who
/// may edit it.
pub async fn load_one<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<OfferRecord>> {
    let mut found = load_offers(db, &[id.to_owned()]).await?;
    match found.pop() {
        Some((row, kids)) => Ok(Some(Records::default().convert(row, kids)?)),
        None => Ok(None),
    }
}

/// One change of an offer, as a revision records it.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    /// The offer.
    pub offer_id: String,
    /// Its version after the change.
    pub version: i32,
    /// What it was.
    pub action: RevisionAction,
    /// The catalog version that committed it.
    pub catalog_version: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether everyone could read the offer before the change.
    pub was_public: bool,
}

/// The committed versions after `after` (at most `limit`), and the offer changes they hold.
pub async fn changes_since<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<(Vec<catalog_change::Model>, Vec<ChangeRow>)> {
    let versions = CatalogChange::find()
        .filter(entities::catalog_change::Column::Version.gt(after))
        .order_by_asc(entities::catalog_change::Column::Version)
        .limit(limit)
        .all(db)
        .await?;
    let Some(last) = versions.last().map(|v| v.version) else { return Ok((versions, Vec::new())) };
    let rows = Revision::find()
        .filter(revision::Column::CatalogVersion.gt(after))
        .filter(revision::Column::CatalogVersion.lte(last))
        .order_by_asc(revision::Column::CatalogVersion)
        .order_by_asc(revision::Column::Id)
        .all(db)
        .await?;
    let changes = rows
        .into_iter()
        .map(|r| ChangeRow {
            was_public: r.before.as_ref().is_some_and(|b| {
                b.get("status").and_then(|s| s.as_str()) == Some("published")
                    && b.get("deletedAt").is_none_or(serde_json::Value::is_null)
            }),
            offer_id: r.offer_id,
            version: r.version,
            action: r.action,
            catalog_version: r.catalog_version.unwrap_or(last),
            at: r.created_at,
        })
        .collect();
    Ok((versions, changes))
}

/// An offer id as the catalog keys it.
pub fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::Internal(format!("offer id {id} is not a UUID")))
}

/// [`load_all`] in `n` ranges of ids, whatever the database (tests of the ranges of ids, which
/// SQLite does not use by itself).
#[cfg(test)]
pub(super) async fn load_all_by_ids(db: &sea_orm::DatabaseConnection, n: usize) -> Result<Loaded> {
    load_ranges(db, id_ranges(n)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_id_ranges_cover_every_row_once_in_order() {
        for (low, high) in
            [(1, 1), (1, 2), (1, 73), (5, 500_073), (-3, 3), (i64::MAX - 2, i64::MAX), (i64::MIN, i64::MAX)]
        {
            for n in [1, 2, 3, 7, 16, 40] {
                let ranges = rowid_bounds(low, high, n);
                assert!(!ranges.is_empty() && ranges.len() <= n, "{low}..={high} in {n}: {ranges:?}");
                let bounds: Vec<(i64, i64)> = ranges
                    .iter()
                    .map(|r| match r {
                        Range::RowIds { first, last } => (*first, *last),
                        Range::Ids(..) => panic!("ids on SQLite"),
                    })
                    .collect();
                assert_eq!(bounds[0].0, low, "{low}..={high} in {n}");
                assert_eq!(bounds[bounds.len() - 1].1, high, "{low}..={high} in {n}");
                for pair in bounds.windows(2) {
                    assert_eq!(pair[0].1 + 1, pair[1].0, "{low}..={high} in {n}: {bounds:?}");
                }
                assert!(bounds.iter().all(|(first, last)| first <= last), "{low}..={high} in {n}: {bounds:?}");
            }
        }
    }
}
