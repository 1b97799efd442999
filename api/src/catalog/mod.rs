//! The in-memory catalog: an immutable snapshot of the published offer, with its indexes, from
//! which every public read is served, and the handle that moves it from version to version.
//!
//! A committed change is applied as a delta: the changed offers are read from the database and
//! put in place of their old records in persistent maps (imbl, the maintained fork of `im`), the
//! indexes get an overlay entry, the area the change covers is dated for the caches. The next
//! snapshot shares everything else with the one before, so a write costs the same at 500,000
//! offers as at 67, and a request reading a snapshot sees one version from start to end.
//!
//! Every instance applies the same changes the same way: its own writes, those announced over
//! Redis and those its poll finds all go through [`CatalogHandle::catch_up`], which reads the
//! change rows after its version and applies them in version order, then tells the subscribers.

pub mod epochs;
pub mod index;
pub mod query;
pub mod records;
pub mod snapshot;
pub mod sync;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use entities::vocab::{ChangeScope, RevisionAction};
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, broadcast};
use uuid::Uuid;

pub use records::{
    CommuneRecord, MediaItem, Occurrence, OfferRecord, Provenance, RouteInfo, Texts, ThemeRecord, boxes_meet,
    point_inside,
};

use crate::error::Result;
use epochs::Epochs;
use index::{Entry, Index};

/// Behind by more than this many versions, an instance rebuilds instead of applying changes.
const REBUILD_AFTER_VERSIONS: usize = 10_000;
/// Versions read per round of catching up.
const VERSIONS_PER_ROUND: u64 = 2_000;

/// The ordering key of a record by name.
type NameKey = (Arc<str>, Uuid);

fn name_key(o: &OfferRecord) -> NameKey {
    (o.sort_name.clone(), o.id)
}

/// An immutable snapshot of the published offer.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Database catalog version this snapshot reflects.
    pub version: i64,
    /// When it was built.
    pub built_at: DateTime<Utc>,
    offers: imbl::HashMap<Uuid, Arc<OfferRecord>>,
    by_slug: imbl::HashMap<Arc<str>, Uuid>,
    by_name: imbl::OrdSet<NameKey>,
    totems: imbl::OrdSet<NameKey>,
    routes: imbl::OrdSet<NameKey>,
    totems_of: imbl::HashMap<Uuid, imbl::OrdSet<Uuid>>,
    index: Index,
    /// When each area and layer last changed (cache keys).
    pub epochs: Epochs,
    /// Communes by name.
    pub communes: Arc<Vec<CommuneRecord>>,
    commune_by_code: Arc<HashMap<String, usize>>,
    /// Themes in display order.
    pub themes: Arc<Vec<ThemeRecord>>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::build(0, Vec::new(), Vec::new(), Vec::new())
    }
}

impl Catalog {
    /// Builds a snapshot from records.
    pub fn build(
        version: i64,
        offers: Vec<Arc<OfferRecord>>,
        mut communes: Vec<CommuneRecord>,
        themes: Vec<ThemeRecord>,
    ) -> Catalog {
        communes.sort_by_key(|c| entities::domain::text::sort_key(&c.name));
        let commune_by_code = communes.iter().enumerate().map(|(i, c)| (c.insee.clone(), i)).collect();
        // The maps are built on a thread of its own beside the index (each half of a large
        // build). The index's passing garbage (the words of every entry) stays on this thread,
        // whose heap lives on: made on the short-lived thread, it stayed resident (170 MB).
        let (index, (map, by_slug, by_name, totems, routes, totems_of)) = std::thread::scope(|scope| {
            let mapping = scope.spawn(|| {
                let mut totems_of: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
                for o in &offers {
                    for c in &o.correlates {
                        totems_of.entry(*c).or_default().insert(o.id);
                    }
                }
                let totems_of: imbl::HashMap<Uuid, imbl::OrdSet<Uuid>> =
                    totems_of.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect();
                let by_name: imbl::OrdSet<NameKey> = offers.iter().map(|o| name_key(o)).collect();
                let totems: imbl::OrdSet<NameKey> = offers.iter().filter(|o| o.is_totem).map(|o| name_key(o)).collect();
                let routes: imbl::OrdSet<NameKey> =
                    offers.iter().filter(|o| o.route.is_some()).map(|o| name_key(o)).collect();
                let by_slug: imbl::HashMap<Arc<str>, Uuid> = offers.iter().map(|o| (o.slug.clone(), o.id)).collect();
                let map: imbl::HashMap<Uuid, Arc<OfferRecord>> = offers.iter().map(|o| (o.id, o.clone())).collect();
                (map, by_slug, by_name, totems, routes, totems_of)
            });
            let index = Index::build_from(version, offers.iter().map(|o| (o.id, &**o)).collect(), Entry::of);
            match mapping.join() {
                Ok(maps) => (index, maps),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        Catalog {
            version,
            built_at: Utc::now(),
            offers: map,
            by_slug,
            by_name,
            totems,
            routes,
            totems_of,
            index,
            epochs: Epochs::new(version),
            communes: Arc::new(communes),
            commune_by_code: Arc::new(commune_by_code),
            themes: Arc::new(themes),
        }
    }

    /// Reads the published offer from the database.
    pub async fn load(db: &DatabaseConnection) -> Result<Catalog> {
        let started = std::time::Instant::now();
        let l = sync::load_all(db).await?;
        let read = started.elapsed();
        let catalog = Catalog::build(l.version, l.offers, l.communes, l.themes);
        tracing::info!(
            offers = catalog.len(),
            read_ms = read.as_millis(),
            build_ms = (started.elapsed() - read).as_millis(),
            "catalog read and built"
        );
        Ok(catalog)
    }

    /// Reads the published offer back from the snapshot file at `path` and the reference data
    /// from the database, when the file was written by this binary for this database (see
    /// `snapshot`). The catalog is at the snapshot's version: catch up from there.
    pub async fn restore(db: &DatabaseConnection, path: &std::path::Path) -> Result<Option<Catalog>> {
        let started = std::time::Instant::now();
        let Some(saved) = snapshot::restore(db, path).await? else { return Ok(None) };
        let (communes, themes) = sync::load_reference(db).await?;
        let read = started.elapsed();
        let catalog = Catalog::build(saved.version, saved.offers, communes, themes);
        tracing::info!(
            offers = catalog.len(),
            version = catalog.version,
            read_ms = read.as_millis(),
            build_ms = (started.elapsed() - read).as_millis(),
            "catalog read back from its snapshot and built"
        );
        Ok(Some(catalog))
    }

    /// The next snapshot, at `version`, with each changed offer in its new state (`None`: no
    /// longer public). Only what the changes touch is copied.
    pub fn apply(&self, version: i64, changed: Vec<(Uuid, Option<OfferRecord>)>) -> Catalog {
        let mut next = self.clone();
        next.version = version;
        next.built_at = Utc::now();
        for (id, new) in changed {
            let old = next.offers.get(&id).cloned();
            if old.is_none() && new.is_none() {
                continue;
            }
            next.epochs.note(old.as_deref(), new.as_ref(), version);
            if let Some(old) = &old {
                next.by_name.remove(&name_key(old));
                next.totems.remove(&name_key(old));
                next.routes.remove(&name_key(old));
                if next.by_slug.get(&old.slug) == Some(&id) {
                    next.by_slug.remove(&old.slug);
                }
                for c in &old.correlates {
                    if let Some(set) = next.totems_of.get_mut(c) {
                        set.remove(&id);
                        if set.is_empty() {
                            next.totems_of.remove(c);
                        }
                    }
                }
                next.offers.remove(&id);
            }
            match new {
                Some(o) => {
                    next.index.set(id, Some(Entry::of(&o)), version);
                    next.by_name.insert(name_key(&o));
                    if o.is_totem {
                        next.totems.insert(name_key(&o));
                    }
                    if o.route.is_some() {
                        next.routes.insert(name_key(&o));
                    }
                    next.by_slug.insert(o.slug.clone(), id);
                    for c in &o.correlates {
                        next.totems_of.entry(*c).or_default().insert(id);
                    }
                    next.offers.insert(id, Arc::new(o));
                }
                None => next.index.set(id, None, version),
            }
        }
        next
    }

    /// Offers held.
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    /// Whether it holds no offer.
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// An offer by id.
    pub fn get(&self, id: &Uuid) -> Option<&Arc<OfferRecord>> {
        self.offers.get(id)
    }

    /// An offer by id given as text.
    pub fn by_id(&self, id: &str) -> Option<&Arc<OfferRecord>> {
        Uuid::parse_str(id).ok().and_then(|u| self.offers.get(&u))
    }

    /// An offer by slug.
    pub fn by_slug(&self, slug: &str) -> Option<&Arc<OfferRecord>> {
        self.by_slug.get(slug).and_then(|id| self.offers.get(id))
    }

    /// An offer by id or slug.
    pub fn find(&self, key: &str) -> Option<&Arc<OfferRecord>> {
        self.by_id(key).or_else(|| self.by_slug(key))
    }

    fn resolve<'a>(
        &'a self,
        keys: impl Iterator<Item = &'a NameKey> + 'a,
    ) -> impl Iterator<Item = &'a Arc<OfferRecord>> + 'a {
        keys.filter_map(|(_, id)| self.offers.get(id))
    }

    /// Every offer, by name then id.
    pub fn by_name(&self) -> impl Iterator<Item = &Arc<OfferRecord>> {
        self.resolve(self.by_name.iter())
    }

    /// The offers that come after `(name, id)` in that order.
    pub fn by_name_after<'a>(&'a self, key: &(Arc<str>, Uuid)) -> impl Iterator<Item = &'a Arc<OfferRecord>> + 'a {
        use std::ops::Bound;
        self.resolve(self.by_name.range((Bound::Excluded(key.clone()), Bound::Unbounded)))
    }

    /// The totems, by name.
    pub fn totem_records(&self) -> impl Iterator<Item = &Arc<OfferRecord>> {
        self.resolve(self.totems.iter())
    }

    /// The routes, by name.
    pub fn route_records(&self) -> impl Iterator<Item = &Arc<OfferRecord>> {
        self.resolve(self.routes.iter())
    }

    /// The public corrélats of a totem, in its order.
    pub fn correlates_of<'a>(&'a self, o: &'a OfferRecord) -> impl Iterator<Item = &'a Arc<OfferRecord>> + 'a {
        o.correlates.iter().filter_map(|id| self.offers.get(id))
    }

    /// The public totems an offer is a corrélat of, by name.
    pub fn totems_of(&self, id: &Uuid) -> Vec<&Arc<OfferRecord>> {
        let mut v: Vec<&Arc<OfferRecord>> =
            self.totems_of.get(id).into_iter().flat_map(|s| s.iter()).filter_map(|t| self.offers.get(t)).collect();
        v.sort_by(|a, b| a.sort_name.cmp(&b.sort_name).then(a.id.cmp(&b.id)));
        v
    }

    /// The public stages of a route, in order.
    pub fn stages_of<'a>(&'a self, o: &'a OfferRecord) -> impl Iterator<Item = &'a Arc<OfferRecord>> + 'a {
        o.route.iter().flat_map(|r| r.stages.iter()).filter_map(|id| self.offers.get(id))
    }

    /// Offers whose bounding box meets `(west, south, east, north)`, sorted by id (a stable
    /// order, so every instance encodes the same tile byte for byte).
    pub fn intersecting(&self, bbox: [f64; 4]) -> Vec<&Arc<OfferRecord>> {
        self.index.intersecting(bbox).into_iter().filter_map(|id| self.offers.get(&id)).collect()
    }

    /// Offers whose point lies in the box, sorted by id.
    pub fn points_in(&self, bbox: [f64; 4]) -> Vec<&Arc<OfferRecord>> {
        self.index.points_in(bbox).into_iter().filter_map(|id| self.offers.get(&id)).collect()
    }

    /// The search indexes.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A commune by INSEE code.
    pub fn commune(&self, code: &str) -> Option<&CommuneRecord> {
        self.commune_by_code.get(code).map(|i| &self.communes[*i])
    }

    /// A theme by code.
    pub fn theme(&self, code: &str) -> Option<&ThemeRecord> {
        self.themes.iter().find(|t| t.code == code)
    }

    /// A digest of every record and every index entry (not of the cache epochs, which depend on
    /// the history an instance saw): two snapshots with the same digest serve the same reads.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        use std::fmt::Write;
        let mut h = Sha256::new();
        let mut line = String::new();
        for o in self.by_name() {
            line.clear();
            let _ = write!(
                line,
                "{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|",
                o.id,
                o.slug,
                o.kind,
                o.name,
                o.short_description,
                o.description,
                o.version,
                o.point,
                o.bbox,
                o.geometry,
                o.commune,
                o.themes,
                o.correlates,
                o.occurrences,
                o.route,
                o.media,
                o.labels,
                o.address,
                o.contacts,
                o.opening_hours,
                (&o.capacity, &o.classification),
                self.totems_of(&o.id).iter().map(|t| t.id).collect::<Vec<_>>(),
            );
            h.update(line.as_bytes());
        }
        for (id, e) in self.index.entries() {
            h.update(format!("{id}|{e:?}|").as_bytes());
        }
        let mut slugs: Vec<(&Arc<str>, &Uuid)> = self.by_slug.iter().collect();
        slugs.sort();
        h.update(format!("{slugs:?}|{:?}|{:?}", self.totems, self.routes).as_bytes());
        for c in self.communes.iter() {
            h.update(format!("{}|{}|{}|", c.insee, c.name, c.population).as_bytes());
        }
        for t in self.themes.iter() {
            h.update(format!("{}|{:?}|{:?}|", t.code, t.name, t.totem).as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A change of an offer, applied to this instance's snapshot (what subscribers are told).
#[derive(Debug, Clone)]
pub struct AppliedChange {
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
    /// Whether everyone could read it before the change.
    pub was_public: bool,
    /// Whether everyone can read it after the change.
    pub is_public: bool,
    /// The organisation that owns it.
    pub owner: Option<String>,
}

/// The current snapshot, moved from version to version by one applier at a time.
pub struct CatalogHandle {
    current: ArcSwap<Catalog>,
    applier: Mutex<()>,
    changes: broadcast::Sender<Arc<AppliedChange>>,
    compacting: AtomicBool,
}

impl CatalogHandle {
    /// Wraps a first snapshot.
    pub fn new(catalog: Catalog) -> CatalogHandle {
        let (changes, _) = broadcast::channel(4096);
        CatalogHandle {
            current: ArcSwap::from_pointee(catalog),
            applier: Mutex::new(()),
            changes,
            compacting: AtomicBool::new(false),
        }
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// The current snapshot for a short look, without touching its reference count (which every
    /// thread's requests share): hold it for a few lookups, never across an `.await`.
    pub fn peek(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.current.load()
    }

    /// The changes applied from now on, in version order, once each.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AppliedChange>> {
        self.changes.subscribe()
    }

    /// Rebuilds from the database (start-up, reference data changed, or far behind).
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<i64> {
        let _one = self.applier.lock().await;
        self.reload_locked(db).await
    }

    async fn reload_locked(&self, db: &DatabaseConnection) -> Result<i64> {
        let catalog = Catalog::load(db).await?;
        let version = catalog.version;
        if version >= self.current.load().version {
            self.current.store(Arc::new(catalog));
        }
        Ok(version)
    }

    /// Applies every change committed after the current snapshot, in version order, and tells
    /// the subscribers; returns the version reached.
    pub async fn catch_up(self: &Arc<Self>, db: &DatabaseConnection) -> Result<i64> {
        let _one = self.applier.lock().await;
        self.catch_up_locked(db).await
    }

    /// Catches up to at least `version` (a write's own): when the snapshot already holds it, as
    /// when a write that committed after it caught up first, there is nothing to read. Writers
    /// that commit together so take the applier once between them, not once each.
    pub async fn catch_up_to(self: &Arc<Self>, db: &DatabaseConnection, version: i64) -> Result<i64> {
        let reached = self.current.load().version;
        if reached >= version {
            return Ok(reached);
        }
        let _one = self.applier.lock().await;
        let reached = self.current.load().version;
        if reached >= version {
            return Ok(reached);
        }
        self.catch_up_locked(db).await
    }

    async fn catch_up_locked(self: &Arc<Self>, db: &DatabaseConnection) -> Result<i64> {
        loop {
            let current = self.current.load_full();
            let (versions, rows) = sync::changes_since(db, current.version, VERSIONS_PER_ROUND).await?;
            let Some(last) = versions.last().map(|v| v.version) else {
                // A version taken without its change row (a write that went around the write
                // path, or a database older than the change rows): only a rebuild knows it.
                if entities::write::catalog_version(db).await? > current.version {
                    // A write that committed between the two reads has its change row: read again
                    // before taking the version for one without.
                    let (again, _) = sync::changes_since(db, current.version, 1).await?;
                    if !again.is_empty() {
                        continue;
                    }
                    tracing::info!(from = current.version, "catalog rebuilt: versions without change rows");
                    self.reload_locked(db).await?;
                }
                break;
            };
            let contiguous = versions.first().is_some_and(|v| v.version == current.version + 1);
            let reference = versions.iter().any(|v| v.scope == ChangeScope::Reference);
            let offers: usize = versions.iter().map(|v| usize::try_from(v.offers).unwrap_or(0)).sum();
            if !contiguous || reference || offers > REBUILD_AFTER_VERSIONS {
                tracing::info!(from = current.version, to = last, reference, contiguous, "catalog rebuilt");
                self.reload_locked(db).await?;
                continue;
            }
            let mut ids: Vec<String> = rows.iter().map(|r| r.offer_id.clone()).collect();
            ids.sort();
            ids.dedup();
            let loaded = sync::load_offers(db, &ids).await?;
            let mut records = records::Records::default();
            let mut owners: HashMap<String, Option<String>> = HashMap::new();
            let mut public: HashMap<String, bool> = HashMap::new();
            let mut changed = Vec::with_capacity(ids.len());
            for (row, kids) in loaded {
                let id = sync::parse_id(&row.id)?;
                owners.insert(row.id.clone(), row.owner.clone());
                public.insert(row.id.clone(), row.is_public());
                let record = if row.is_public() { Some(records.convert(row, kids)?) } else { None };
                changed.push((id, record));
            }
            // An offer gone from the database altogether (never, with soft deletion) leaves too.
            for id in &ids {
                if !public.contains_key(id) {
                    changed.push((sync::parse_id(id)?, None));
                }
            }
            let next = current.apply(last, changed);
            self.current.store(Arc::new(next));
            // Each change is told once, in order; whether it was public after it is the next
            // change's "before", or the row's state for the last one.
            let mut is_public_after: HashMap<usize, bool> = HashMap::new();
            let mut last_seen: HashMap<&str, usize> = HashMap::new();
            for (i, r) in rows.iter().enumerate() {
                if let Some(prev) = last_seen.insert(r.offer_id.as_str(), i) {
                    is_public_after.insert(prev, r.was_public);
                }
            }
            for (i, r) in rows.iter().enumerate() {
                let change = AppliedChange {
                    offer_id: r.offer_id.clone(),
                    version: r.version,
                    action: r.action,
                    catalog_version: r.catalog_version,
                    at: r.at,
                    was_public: r.was_public,
                    is_public: is_public_after
                        .get(&i)
                        .copied()
                        .unwrap_or_else(|| public.get(&r.offer_id).copied().unwrap_or(false)),
                    owner: owners.get(&r.offer_id).cloned().flatten(),
                };
                let _ = self.changes.send(Arc::new(change));
            }
        }
        self.maybe_compact(db);
        Ok(self.current.load().version)
    }

    /// Builds a new index base off the write path when the overlay has grown, then carries the
    /// changes made meanwhile over to it.
    fn maybe_compact(self: &Arc<Self>, _db: &DatabaseConnection) {
        let snapshot = self.current.load_full();
        if !snapshot.index.needs_compaction() || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let handle = self.clone();
        tokio::spawn(async move {
            let built = tokio::task::spawn_blocking(move || snapshot.index.compacted(snapshot.version)).await;
            match built {
                Ok(fresh) => {
                    let _one = handle.applier.lock().await;
                    let now = handle.current.load_full();
                    let mut next = (*now).clone();
                    next.index = now.index.rebase(fresh);
                    handle.current.store(Arc::new(next));
                    tracing::debug!(version = now.version, "catalog index compacted");
                }
                Err(e) => tracing::warn!(error = %e, "catalog index compaction failed"),
            }
            handle.compacting.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entities::vocab::{OfferStatus, RevisionAction};
    use entities::write::{SlugRule, Writer};

    /// A small deterministic generator (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    pub(super) async fn territory_db() -> (tempfile::TempDir, DatabaseConnection) {
        let dir = tempfile::tempdir().expect("folder");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let db = sea_orm::Database::connect(&url).await.expect("sqlite");
        crate::db::migrate(&db).await.expect("migrations");
        crate::db::seed(&db).await.expect("territory");
        (dir, db)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reading_by_ranges_reads_every_offer_once() {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let (_dir, db) = territory_db().await;
        let mut rng = Rng(7);
        // Offers on both sides of every range's bound, and ids in capitals (between the digits
        // and the lowercase letters).
        let mut w = Writer::begin(&db, "test", "").await.expect("writer");
        for (n, first) in ["0", "7", "8", "9", "a", "f", "A", "F"].into_iter().enumerate() {
            let mut o = offer(&mut rng, n);
            o.id = format!("{first}{}", &o.id[1..]);
            if first.chars().all(|c| c.is_ascii_uppercase()) {
                o.id = o.id.to_uppercase();
            }
            o.status = OfferStatus::Published;
            w.create(o, SlugRule::Given, RevisionAction::Create).await.expect("create");
        }
        w.commit().await.expect("commit");
        let public = entities::prelude::Offer::find()
            .filter(entities::offer::Column::Status.eq(entities::vocab::OfferStatus::Published))
            .filter(entities::offer::Column::DeletedAt.is_null())
            .count(&db)
            .await
            .expect("count");
        assert!(public > 70, "the territory and the new offers: {public}");
        let one = sync::load_all_in(&db, 1).await.expect("one range");
        let one_ids: BTreeSet<Uuid> = one.offers.iter().map(|o| o.id).collect();
        assert_eq!(one.offers.len() as u64, public);
        // Ranges of row ids (what SQLite reads), then of ids (what PostgreSQL reads).
        for ranges in [2, 3, 5, 16, 40] {
            for (how, l) in [
                ("row ids", sync::load_all_in(&db, ranges).await.expect("row ids")),
                ("ids", sync::load_all_by_ids(&db, ranges).await.expect("ids")),
            ] {
                let ids: BTreeSet<Uuid> = l.offers.iter().map(|o| o.id).collect();
                assert_eq!(l.offers.len(), one.offers.len(), "{ranges} ranges of {how}");
                assert_eq!(ids, one_ids, "{ranges} ranges of {how}");
            }
        }
    }

    /// A new offer around Wallers.
    fn offer(rng: &mut Rng, n: usize) -> entities::offer::Model {
        let (lon, lat) = (3.38 + rng.unit() * 0.08, 50.36 + rng.unit() * 0.04);
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now();
        entities::offer::Model {
            slug: format!("essai-{n}-{}", &id[..8]),
            kind: entities::vocab::OfferKind::Site,
            classes: Default::default(),
            is_totem: false,
            name: entities::values::Texts::fr(format!("Essai {n} cité terril")),
            short_description: Some(entities::values::Texts::fr("Un lieu d'essai près du chevalement")),
            description: None,
            lon,
            lat,
            geo_precision: entities::vocab::GeoPrecision::Exact,
            geometry: None,
            min_lon: lon,
            min_lat: lat,
            max_lon: lon,
            max_lat: lat,
            commune_insee: None,
            in_territory: false,
            address: None,
            contacts: None,
            opening_hours: None,
            opening_hours_text: None,
            prices: None,
            accessibility: None,
            labels: Default::default(),
            capacity: None,
            classification: None,
            source: "porte-du-hainaut-api".into(),
            source_id: format!("offer:{id}"),
            source_licence: "Licence Ouverte / Etalab 2.0".into(),
            source_attribution: "Test".into(),
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
            id,
        }
    }

    /// Gives an offer a footprint: a rectangle of 0.002° by 0.001° from its point, north-east.
    fn give_footprint(o: &mut entities::offer::Model) {
        let (x, y) = (o.lon, o.lat);
        let g = serde_json::json!({"type": "Polygon", "coordinates": [[[x, y], [x + 0.002, y], [x + 0.002, y + 0.001], [x, y + 0.001], [x, y]]]});
        o.geometry = Some(g.to_string());
        (o.min_lon, o.min_lat, o.max_lon, o.max_lat) = (x, y, x + 0.002, y + 0.001);
    }

    /// A few hundred random writes through the write path (create, move, rename, give a footprint,
    /// publish, archive, delete, restore, re-theme, re-link corrélats): after each round the
    /// snapshot maintained change by change equals one rebuilt from the database, records and
    /// indexes alike.
    #[tokio::test]
    async fn the_incremental_catalog_equals_a_rebuild_after_random_writes() {
        let (_dir, db) = territory_db().await;
        let handle = Arc::new(CatalogHandle::new(Catalog::load(&db).await.expect("catalog")));
        let mut rng = Rng(7);
        let mut ids: Vec<String> = handle.get().by_name().map(|o| o.id_string()).collect();
        let totems: Vec<String> = handle.get().totem_records().map(|o| o.id_string()).collect();
        let themes = ["decouverte", "nature", "sport", "bien-etre", "fluvestre"];
        for step in 0..300 {
            let mut w = Writer::begin(&db, "test", "").await.expect("writer");
            match rng.below(9) {
                0 | 1 => {
                    let o =
                        w.create(offer(&mut rng, step), SlugRule::Given, RevisionAction::Create).await.expect("create");
                    w.set_themes(&o.id, &[themes[rng.below(5)].to_owned()]).await.expect("themes");
                    ids.push(o.id);
                }
                k => {
                    let id = ids[rng.below(ids.len())].clone();
                    let current = w.get(&id).await.expect("offer");
                    let mut next = current.clone();
                    let action = match k {
                        2 => {
                            next.lon += (rng.unit() - 0.5) * 0.01;
                            next.lat += (rng.unit() - 0.5) * 0.01;
                            if next.geometry.is_none() {
                                (next.min_lon, next.min_lat, next.max_lon, next.max_lat) =
                                    (next.lon, next.lat, next.lon, next.lat);
                            } else {
                                next.min_lon = next.min_lon.min(next.lon);
                                next.min_lat = next.min_lat.min(next.lat);
                                next.max_lon = next.max_lon.max(next.lon);
                                next.max_lat = next.max_lat.max(next.lat);
                            }
                            RevisionAction::Update
                        }
                        3 => {
                            next.name = entities::values::Texts::fr(format!("Renommé {step} abbaye"));
                            RevisionAction::Update
                        }
                        4 => {
                            give_footprint(&mut next);
                            RevisionAction::Update
                        }
                        5 => {
                            next.status = OfferStatus::Published;
                            RevisionAction::Publish
                        }
                        6 => {
                            next.status = if rng.below(2) == 0 { OfferStatus::Archived } else { OfferStatus::Draft };
                            RevisionAction::Archive
                        }
                        7 => {
                            next.deleted_at = if next.deleted_at.is_some() { None } else { Some(Utc::now()) };
                            RevisionAction::Delete
                        }
                        _ => {
                            let totem = totems[rng.below(totems.len())].clone();
                            let t = w.get(&totem).await.expect("totem");
                            let links: Vec<String> = (0..3).map(|_| ids[rng.below(ids.len())].clone()).collect();
                            w.set_correlates(&totem, &links).await.expect("corrélats");
                            w.touch(&t, t.version, RevisionAction::Update).await.expect("totem version");
                            w.commit().await.expect("commit");
                            handle.catch_up(&db).await.expect("catch up");
                            continue;
                        }
                    };
                    w.update(&current, next, current.version, action).await.expect("update");
                    if rng.below(3) == 0 {
                        w.set_themes(&id, &[themes[rng.below(5)].to_owned()]).await.expect("themes");
                    }
                }
            }
            w.commit().await.expect("commit");
            handle.catch_up(&db).await.expect("catch up");
            if step % 50 == 49 {
                let rebuilt = Catalog::load(&db).await.expect("rebuild");
                let incremental = handle.get();
                assert_eq!(incremental.version, rebuilt.version, "step {step}");
                assert_eq!(incremental.len(), rebuilt.len(), "step {step}");
                assert_eq!(incremental.digest(), rebuilt.digest(), "step {step}");
            }
        }
        let snapshot = handle.get();
        let created_and_public = ids.iter().skip(67).filter(|id| snapshot.by_id(id).is_some()).count();
        assert!(created_and_public > 0, "some new offers were published on the way");
        assert!(snapshot.len() != 67, "the catalog changed");
    }

    /// A catalog written to its snapshot reads back equal (records and indexes, tile projections,
    /// parsed opening hours, shared provenance texts); restored after later writes, it catches up
    /// to what a rebuild from the database gives.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_reads_back_equal_and_catches_up_with_later_writes() {
        let (dir, db) = territory_db().await;
        let path = dir.path().join("catalog.snapshot");
        // The territory's offers have no opening hours: two that do, with prices.
        let mut rng = Rng(11);
        let mut w = Writer::begin(&db, "test", "").await.expect("writer");
        for (n, hours) in ["Mo-Fr 10:00-18:00; Sa 14:00-18:00", "Tu-Su 09:00-12:00,14:00-17:30"].into_iter().enumerate()
        {
            let mut o = offer(&mut rng, 100 + n);
            o.status = OfferStatus::Published;
            o.opening_hours = Some(hours.into());
            o.prices = Some(Default::default());
            w.create(o, SlugRule::Given, RevisionAction::Create).await.expect("create");
        }
        w.commit().await.expect("commit");
        let loaded = Arc::new(Catalog::load(&db).await.expect("catalog"));
        snapshot::save(&db, &path, loaded.clone()).await.expect("save").expect("written");
        let restored = Catalog::restore(&db, &path).await.expect("restore").expect("believed");
        assert_eq!(restored.version, loaded.version);
        assert_eq!(restored.len(), loaded.len());
        assert_eq!(restored.digest(), loaded.digest());
        let (mut shapes, mut hours, mut addresses) = (0, 0, 0);
        let mut licences: Vec<*const u8> = Vec::new();
        for o in loaded.by_name() {
            let r = restored.get(&o.id).expect("restored");
            assert_eq!(r.mercator, o.mercator, "{}", o.slug);
            assert_eq!(format!("{:?}", r.schedule), format!("{:?}", o.schedule), "{}", o.slug);
            assert_eq!(r.provenance, o.provenance);
            assert_eq!(r.sort_name, o.sort_name);
            assert_eq!((&r.address, &r.contacts, &r.prices), (&o.address, &o.contacts, &o.prices), "{}", o.slug);
            assert_eq!((&r.accessibility, &r.capacity), (&o.accessibility, &o.capacity), "{}", o.slug);
            assert_eq!(r.classification, o.classification, "{}", o.slug);
            addresses += usize::from(r.address.is_some());
            shapes += usize::from(r.mercator.is_some());
            hours += usize::from(r.schedule.is_some());
            licences.push(r.provenance.licence.as_ptr());
        }
        assert!(shapes > 0 && hours == 2 && addresses > 0, "footprints {shapes}, hours {hours}, addresses {addresses}");
        licences.sort();
        licences.dedup();
        assert!(licences.len() < 10, "licence texts shared, not one per offer: {}", licences.len());
        // Writes after the snapshot: new published offers, a move, a footprint, a deletion, new
        // corrélats.
        let mut w = Writer::begin(&db, "test", "").await.expect("writer");
        for n in 0..5 {
            let mut o = offer(&mut rng, n);
            o.status = OfferStatus::Published;
            w.create(o, SlugRule::Given, RevisionAction::Create).await.expect("create");
        }
        w.commit().await.expect("commit");
        let ids: Vec<String> = loaded.by_name().map(|o| o.id_string()).collect();
        for (k, id) in ids.iter().take(3).enumerate() {
            let mut w = Writer::begin(&db, "test", "").await.expect("writer");
            let current = w.get(id).await.expect("offer");
            let mut next = current.clone();
            let action = match k {
                0 => {
                    give_footprint(&mut next);
                    RevisionAction::Update
                }
                1 => {
                    next.name = entities::values::Texts::fr("Renommé après l'instantané");
                    RevisionAction::Update
                }
                _ => {
                    next.deleted_at = Some(Utc::now());
                    RevisionAction::Delete
                }
            };
            w.update(&current, next, current.version, action).await.expect("update");
            w.commit().await.expect("commit");
        }
        let totem = loaded.totem_records().next().expect("a totem").id_string();
        let mut w = Writer::begin(&db, "test", "").await.expect("writer");
        let t = w.get(&totem).await.expect("totem");
        w.set_correlates(&totem, &ids[3..6]).await.expect("corrélats");
        w.touch(&t, t.version, RevisionAction::Update).await.expect("totem version");
        w.commit().await.expect("commit");
        let handle =
            Arc::new(CatalogHandle::new(Catalog::restore(&db, &path).await.expect("restore").expect("believed")));
        assert_eq!(handle.get().version, loaded.version, "the snapshot's own version first");
        handle.catch_up(&db).await.expect("catch up");
        let rebuilt = Catalog::load(&db).await.expect("rebuild");
        assert!(rebuilt.version > loaded.version);
        assert_eq!(handle.get().version, rebuilt.version);
        assert_eq!(handle.get().len(), loaded.len() + 5 - 1, "five new, one deleted");
        assert_eq!(handle.get().digest(), rebuilt.digest());
    }

    /// The changes told to subscribers come once each, in version order.
    #[tokio::test]
    async fn subscribers_are_told_every_change_once_in_order() {
        let (_dir, db) = territory_db().await;
        let handle = Arc::new(CatalogHandle::new(Catalog::load(&db).await.expect("catalog")));
        let mut told = handle.subscribe();
        let mut rng = Rng(3);
        let mut expected = Vec::new();
        for step in 0..20 {
            let mut w = Writer::begin(&db, "test", "").await.expect("writer");
            let o = w.create(offer(&mut rng, step), SlugRule::Given, RevisionAction::Create).await.expect("create");
            let mut p = o.clone();
            p.status = OfferStatus::Published;
            w.update(&o, p, 1, RevisionAction::Publish).await.expect("publish");
            let v = w.commit().await.expect("commit").expect("committed").version;
            expected.push((o.id.clone(), 1, v));
            expected.push((o.id, 2, v));
            // Catch up every other write, twice at times: nothing is told twice.
            if step % 2 == 1 {
                handle.catch_up(&db).await.expect("catch up");
                handle.catch_up(&db).await.expect("again");
            }
        }
        handle.catch_up(&db).await.expect("catch up");
        let mut got = Vec::new();
        while let Ok(c) = told.try_recv() {
            got.push((c.offer_id.clone(), c.version, c.catalog_version));
        }
        assert_eq!(got, expected);
    }
}
