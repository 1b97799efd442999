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
        offers: Vec<OfferRecord>,
        mut communes: Vec<CommuneRecord>,
        themes: Vec<ThemeRecord>,
    ) -> Catalog {
        communes.sort_by_key(|c| entities::domain::text::sort_key(&c.name));
        let commune_by_code = communes.iter().enumerate().map(|(i, c)| (c.insee.clone(), i)).collect();
        let index = Index::build(version, offers.iter().map(|o| (o.id, Entry::of(o))));
        let mut totems_of: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
        for o in &offers {
            for c in &o.correlates {
                totems_of.entry(*c).or_default().insert(o.id);
            }
        }
        let by_name = offers.iter().map(name_key).collect();
        let totems = offers.iter().filter(|o| o.is_totem).map(name_key).collect();
        let routes = offers.iter().filter(|o| o.route.is_some()).map(name_key).collect();
        let by_slug = offers.iter().map(|o| (o.slug.clone(), o.id)).collect();
        Catalog {
            version,
            built_at: Utc::now(),
            offers: offers.into_iter().map(|o| (o.id, Arc::new(o))).collect(),
            by_slug,
            by_name,
            totems,
            routes,
            totems_of: totems_of.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect(),
            index,
            epochs: Epochs::new(version),
            communes: Arc::new(communes),
            commune_by_code: Arc::new(commune_by_code),
            themes: Arc::new(themes),
        }
    }

    /// Reads the published offer from the database.
    pub async fn load(db: &DatabaseConnection) -> Result<Catalog> {
        let l = sync::load_all(db).await?;
        Ok(Catalog::build(l.version, l.offers, l.communes, l.themes))
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
                "{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|",
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
        loop {
            let current = self.current.load_full();
            let (versions, rows) = sync::changes_since(db, current.version, VERSIONS_PER_ROUND).await?;
            let Some(last) = versions.last().map(|v| v.version) else {
                // A version taken without its change row (a write that went around the write
                // path, or a database older than the change rows): only a rebuild knows it.
                if entities::write::catalog_version(db).await? > current.version {
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
            let built = tokio::task::spawn_blocking(move || {
                Index::build(snapshot.version, snapshot.by_name().map(|o| (o.id, Entry::of(o))))
            })
            .await;
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
