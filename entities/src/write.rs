//! The one write path of the offer. Every change — a mutation, the territory loader, an
//! importer — opens a [`Writer`], makes its changes through it and commits it; in one transaction
//! it writes the rows and child rows, checks every offer it writes (the same checks whoever
//! writes), reserves slugs by one rule, writes a revision per change (with its action and actor),
//! and takes the next catalog version atomically as its last statement
//! (`UPDATE … SET version = version + 1 RETURNING version`), so versions are unique and in commit
//! order across any number of processes; a row in `catalog_changes` records the version.
//!
//! Concurrent edits are settled by the database: an update names the version it was made
//! against (`WHERE version = expected`), and the one that finds the row moved on gets
//! [`WriteError::Conflict`] with the current version. On SQLite, which has a single writer, the
//! writers of one process queue on a lock; on PostgreSQL nothing in the process serialises them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, Iterable, QueryFilter, QuerySelect, Set, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::domain::check::{self, Invalid, invalid};
use crate::domain::{geometry, hours, slug};
use crate::prelude::*;
use crate::values::{MAX_NAME, MAX_SHORT, MAX_TEXT, Texts};
use crate::vocab::{ChangeScope, RevisionAction};
use crate::{
    catalog_change, catalog_state, event_occurrence, media, offer, offer_correlate, offer_theme, revision, route,
    route_stage,
};

/// How long a write waits for a row another writer holds (PostgreSQL), before giving up unsaved.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per statement when many are written at once.
const CHUNK: usize = 400;

/// Why a write was not saved.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A field is invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The offer is no longer at the version the change was made against.
    #[error("the offer changed meanwhile: current version is {current}")]
    Conflict {
        /// Its version now.
        current: i32,
    },
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Results of the write path.
pub type WriteResult<T> = Result<T, WriteError>;

/// One change of an offer in a committed unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The offer.
    pub offer_id: String,
    /// Its version after the change.
    pub version: i32,
    /// What it was.
    pub action: RevisionAction,
}

/// What a commit did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The catalog version it took.
    pub version: i64,
    /// The offers it changed, in the order they were changed.
    pub changes: Vec<Change>,
    /// Whether reference data (communes, themes) changed.
    pub scope: ChangeScope,
}

/// How a new offer's slug is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugRule {
    /// Given by the writer: it must be free.
    Given,
    /// Made from the name: when taken, the start of the id is added to it.
    FromName,
}

/// When an occurrence of an event starts and ends.
pub type Occurrence = (DateTime<Utc>, DateTime<Utc>);

/// A new offer with what hangs off it, for [`Writer::create_many`].
#[derive(Debug, Clone)]
pub struct NewOffer {
    /// The offer (its slug must be free).
    pub offer: offer::Model,
    /// Its theme codes.
    pub themes: Vec<String>,
    /// Its occurrences, for an event.
    pub occurrences: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Its route facts, for a route (stages by offer id).
    pub route: Option<(route::Model, Vec<String>)>,
    /// Its media, in order (each checked as by [`Writer::set_media`]).
    pub media: Vec<media::Model>,
}

/// Makes `after` the next version of `before` (made against `expected`): its id, version, times
/// and whether it was ever published.
fn next_version(before: &offer::Model, after: &mut offer::Model, expected: i32) {
    after.id = before.id.clone();
    after.version = expected + 1;
    after.updated_at = Utc::now();
    after.created_at = before.created_at;
    after.published_once = before.published_once || after.is_public();
}

/// Serialises the writers of this process on SQLite (one writer per database file).
static SQLITE_WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A unit of work: one transaction changing the offer.
pub struct Writer {
    txn: DatabaseTransaction,
    actor: String,
    field_prefix: &'static str,
    revisions: Vec<revision::ActiveModel>,
    changes: Vec<Change>,
    reference: bool,
    aside: bool,
    _sqlite: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl Writer {
    /// Opens a unit of work for `actor` (written in revisions). Errors name their fields with
    /// `field_prefix` before the path (`input.` for the API, nothing for loaders).
    pub async fn begin(db: &DatabaseConnection, actor: &str, field_prefix: &'static str) -> WriteResult<Writer> {
        let sqlite = match db.get_database_backend() {
            DbBackend::Sqlite => Some(SQLITE_WRITER.lock().await),
            _ => None,
        };
        let txn = match db.get_database_backend() {
            // The write lock from the start (waiting, as for any lock, up to the busy timeout): a
            // transaction that read first and wrote second would fail at once with
            // SQLITE_BUSY_SNAPSHOT if another connection (another process, or the rollback of
            // a dropped writer still in flight) wrote in between.
            DbBackend::Sqlite => {
                db.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await?
            }
            _ => db.begin().await?,
        };
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{}ms'", LOCK_TIMEOUT.as_millis())).await?;
        }
        Ok(Writer {
            txn,
            actor: actor.to_owned(),
            field_prefix,
            revisions: Vec::new(),
            changes: Vec::new(),
            reference: false,
            aside: false,
            _sqlite: sqlite,
        })
    }

    /// The transaction, for reads and for the reference data (communes, themes).
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Who writes.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// How many offers this unit changed so far.
    pub fn changed(&self) -> usize {
        self.changes.len()
    }

    fn field(&self, path: &str) -> String {
        format!("{}{path}", self.field_prefix)
    }

    /// An offer by id.
    pub async fn find(&self, id: &str) -> WriteResult<Option<offer::Model>> {
        Ok(Offer::find_by_id(id.to_owned()).one(&self.txn).await?)
    }

    /// An offer by id, or `NOT_FOUND`.
    pub async fn get(&self, id: &str) -> WriteResult<offer::Model> {
        self.find(id).await?.ok_or_else(|| WriteError::NotFound(format!("no offer {id}")))
    }

    /// An offer by its source's id.
    pub async fn find_by_source(&self, source: &str, source_id: &str) -> WriteResult<Option<offer::Model>> {
        Ok(Offer::find()
            .filter(offer::Column::Source.eq(source))
            .filter(offer::Column::SourceId.eq(source_id))
            .one(&self.txn)
            .await?)
    }

    /// The offers of a source with these source ids, by source id (one query per chunk).
    pub async fn find_many_by_source(
        &self,
        source: &str,
        source_ids: &[&str],
    ) -> WriteResult<HashMap<String, offer::Model>> {
        let mut found = HashMap::with_capacity(source_ids.len());
        for chunk in source_ids.chunks(CHUNK) {
            let rows = Offer::find()
                .filter(offer::Column::Source.eq(source))
                .filter(offer::Column::SourceId.is_in(chunk.iter().copied()))
                .all(&self.txn)
                .await?;
            found.extend(rows.into_iter().map(|o| (o.source_id.clone(), o)));
        }
        Ok(found)
    }

    /// Gives each new offer a slug made from its name by the rule of [`SlugRule::FromName`],
    /// free in the database, within `offers` and among `reserved` (slugs that a unit written at
    /// the same time may take, see [`slugs_from_name`]), with one query per chunk, not one per
    /// offer.
    pub async fn settle_slugs_from_names(
        &self,
        offers: &mut [offer::Model],
        reserved: &HashSet<String>,
    ) -> WriteResult<()> {
        let candidates: Vec<Vec<String>> = offers.iter().map(slugs_from_name).collect();
        let mut taken: HashSet<String> = reserved.clone();
        let all: Vec<&str> = candidates.iter().flatten().map(String::as_str).collect();
        for chunk in all.chunks(CHUNK) {
            let rows = Offer::find()
                .select_only()
                .column(offer::Column::Slug)
                .filter(offer::Column::Slug.is_in(chunk.iter().copied()))
                .into_tuple::<String>()
                .all(&self.txn)
                .await?;
            taken.extend(rows);
        }
        for (o, candidates) in offers.iter_mut().zip(candidates) {
            let Some(free) = candidates.into_iter().find(|c| !taken.contains(c)) else {
                return Err(invalid(self.field("slug"), "give a slug: none can be made from the name").into());
            };
            taken.insert(free.clone());
            o.slug = free;
        }
        Ok(())
    }

    async fn slug_taken(&self, slug: &str, id: &str) -> WriteResult<bool> {
        let taken = Offer::find()
            .select_only()
            .column(offer::Column::Id)
            .filter(offer::Column::Slug.eq(slug))
            .filter(offer::Column::Id.ne(id))
            .into_tuple::<String>()
            .one(&self.txn)
            .await?;
        Ok(taken.is_some())
    }

    /// The one slug rule: a given slug must be free; one made from the name gets the start of
    /// the id when taken (the same event in two towns), the whole id if that is taken too.
    async fn settle_slug(&self, o: &mut offer::Model, rule: SlugRule) -> WriteResult<()> {
        if rule == SlugRule::FromName {
            for c in slugs_from_name(o) {
                if !self.slug_taken(&c, &o.id).await? {
                    o.slug = c;
                    return Ok(());
                }
            }
            return Err(invalid(self.field("slug"), "give a slug: none can be made from the name").into());
        }
        if !slug::is_slug(&o.slug) {
            return Err(invalid(
                self.field("slug"),
                "lowercase letters, digits and single hyphens, at most 120 characters",
            )
            .into());
        }
        if self.slug_taken(&o.slug, &o.id).await? {
            return Err(invalid(self.field("slug"), format!("{:?} is already used by another offer", o.slug)).into());
        }
        Ok(())
    }

    fn record(
        &mut self,
        after: &offer::Model,
        action: RevisionAction,
        before: Option<&offer::Model>,
    ) -> WriteResult<()> {
        let before = before.map(serde_json::to_value).transpose().map_err(|e| DbErr::Custom(e.to_string()))?;
        self.revisions.push(revision::ActiveModel {
            offer_id: Set(after.id.clone()),
            version: Set(after.version),
            action: Set(action),
            actor: Set(self.actor.clone()),
            before: Set(before),
            created_at: Set(after.updated_at),
            ..Default::default()
        });
        self.changes.push(Change { offer_id: after.id.clone(), version: after.version, action });
        Ok(())
    }

    /// Creates an offer (checked, its slug settled by `rule`), with its revision.
    pub async fn create(
        &mut self,
        mut o: offer::Model,
        rule: SlugRule,
        action: RevisionAction,
    ) -> WriteResult<offer::Model> {
        o.version = 1;
        o.published_once = o.is_public();
        check_offer(&o, self.field_prefix)?;
        self.settle_slug(&mut o, rule).await?;
        o.clone().into_active_model().insert(&self.txn).await?;
        self.record(&o, action, None)?;
        Ok(o)
    }

    /// Creates many new offers at once (bulk statements: the path of imports and generators),
    /// each checked, each with its revision; a slug already taken refuses the whole unit.
    pub async fn create_many(&mut self, batch: Vec<NewOffer>, action: RevisionAction) -> WriteResult<usize> {
        let n = batch.len();
        let mut media = Vec::new();
        for (i, b) in batch.iter().enumerate() {
            check_offer(&b.offer, self.field_prefix).map_err(|e| invalid(format!("[{i}].{}", e.field), e.message))?;
            if !slug::is_slug(&b.offer.slug) {
                return Err(invalid(format!("[{i}].slug"), "not a slug").into());
            }
            if b.media.len() > 100 {
                return Err(invalid(format!("[{i}].media"), "at most 100 items").into());
            }
            for (j, m) in b.media.iter().enumerate() {
                media.push(check_media(m.clone(), &format!("[{i}].media[{j}]"), &b.offer.id, j)?.into_active_model());
            }
        }
        for chunk in batch.chunks(CHUNK) {
            let slugs: Vec<&str> = chunk.iter().map(|b| b.offer.slug.as_str()).collect();
            let taken = Offer::find()
                .select_only()
                .column(offer::Column::Slug)
                .filter(offer::Column::Slug.is_in(slugs))
                .into_tuple::<String>()
                .all(&self.txn)
                .await?;
            if let Some(t) = taken.first() {
                return Err(invalid(self.field("slug"), format!("{t:?} is already used by another offer")).into());
            }
            Offer::insert_many(chunk.iter().map(|b| {
                let mut o = b.offer.clone();
                o.version = 1;
                o.published_once = o.is_public();
                o.into_active_model()
            }))
            .exec(&self.txn)
            .await?;
        }
        let themes: Vec<offer_theme::ActiveModel> = batch
            .iter()
            .flat_map(|b| {
                b.themes
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(|t| offer_theme::ActiveModel { offer_id: Set(b.offer.id.clone()), theme_code: Set(t.clone()) })
            })
            .collect();
        for chunk in themes.chunks(CHUNK) {
            OfferTheme::insert_many(chunk.to_vec()).exec(&self.txn).await?;
        }
        let mut occurrences = Occurrences::default();
        for (i, b) in batch.iter().enumerate() {
            let list = settle_occurrences(&format!("[{i}].occurrences"), &b.occurrences)?;
            occurrences.extend(&b.offer.id, list);
        }
        occurrences.insert(&self.txn).await?;
        let routes: Vec<route::ActiveModel> =
            batch.iter().filter_map(|b| b.route.as_ref()).map(|(r, _)| r.clone().into_active_model()).collect();
        for chunk in routes.chunks(CHUNK) {
            Route::insert_many(chunk.to_vec()).exec(&self.txn).await?;
        }
        let stages: Vec<route_stage::ActiveModel> = batch
            .iter()
            .filter_map(|b| b.route.as_ref())
            .flat_map(|(r, stages)| {
                stages.iter().enumerate().map(|(i, o)| route_stage::ActiveModel {
                    route_id: Set(r.offer_id.clone()),
                    position: Set(i32::try_from(i).unwrap_or(i32::MAX) + 1),
                    offer_id: Set(o.clone()),
                })
            })
            .collect();
        for chunk in stages.chunks(CHUNK) {
            RouteStage::insert_many(chunk.to_vec()).exec(&self.txn).await?;
        }
        for chunk in media.chunks(CHUNK) {
            Media::insert_many(chunk.to_vec()).exec(&self.txn).await?;
        }
        for b in &batch {
            let mut o = b.offer.clone();
            o.version = 1;
            self.record(&o, action, None)?;
        }
        Ok(n)
    }

    /// Replaces `before` by `after` if the row is still at `expected` (else `CONFLICT` with the
    /// current version), with its revision. `after` is checked; a changed slug must be free.
    pub async fn update(
        &mut self,
        before: &offer::Model,
        mut after: offer::Model,
        expected: i32,
        action: RevisionAction,
    ) -> WriteResult<offer::Model> {
        next_version(before, &mut after, expected);
        check_offer(&after, self.field_prefix)?;
        if after.slug != before.slug {
            self.settle_slug(&mut after, SlugRule::Given).await?;
        }
        let mut active = after.clone().into_active_model().reset_all();
        active.id = sea_orm::ActiveValue::Unchanged(after.id.clone());
        // The version in the WHERE clause is what settles concurrent writers: the one that finds
        // the row moved on changes nothing.
        let result = Offer::update_many()
            .set(active)
            .filter(offer::Column::Id.eq(after.id.as_str()))
            .filter(offer::Column::Version.eq(expected))
            .exec(&self.txn)
            .await?;
        if result.rows_affected != 1 {
            let current = Offer::find_by_id(after.id.clone())
                .select_only()
                .column(offer::Column::Version)
                .into_tuple::<i32>()
                .one(&self.txn)
                .await?;
            return match current {
                Some(current) => Err(WriteError::Conflict { current }),
                None => Err(WriteError::NotFound(format!("no offer {}", after.id))),
            };
        }
        self.record(&after, action, Some(before))?;
        Ok(after)
    }

    /// Replaces many offers at once, each `(before, after)` as by [`Writer::update`] against
    /// `before.version`: the rows are locked and their versions checked with one query, then
    /// written with one statement per chunk (the path of imports). The first offer no longer at
    /// its version refuses the whole unit (`CONFLICT`, or `NOT_FOUND` if it is gone).
    pub async fn update_many(
        &mut self,
        list: Vec<(&offer::Model, offer::Model)>,
        action: RevisionAction,
    ) -> WriteResult<Vec<offer::Model>> {
        let mut seen = HashSet::with_capacity(list.len());
        if let Some(i) = list.iter().position(|(before, _)| !seen.insert(before.id.as_str())) {
            return Err(invalid(format!("[{i}].id"), "the same offer twice in one change").into());
        }
        let (mut befores, mut afters) = (Vec::with_capacity(list.len()), Vec::with_capacity(list.len()));
        for (i, (before, mut after)) in list.into_iter().enumerate() {
            next_version(before, &mut after, before.version);
            check_offer(&after, self.field_prefix).map_err(|e| invalid(format!("[{i}].{}", e.field), e.message))?;
            if after.slug != before.slug {
                self.settle_slug(&mut after, SlugRule::Given).await?;
            }
            befores.push(before);
            afters.push(after);
        }
        for chunk in befores.chunks(CHUNK) {
            // Locked until the commit (PostgreSQL; SQLite's writer holds the whole database), so
            // the rows are still there, at these versions, when they are written below.
            let current: HashMap<String, i32> = Offer::find()
                .select_only()
                .column(offer::Column::Id)
                .column(offer::Column::Version)
                .filter(offer::Column::Id.is_in(chunk.iter().map(|b| b.id.as_str())))
                .lock_exclusive()
                .into_tuple::<(String, i32)>()
                .all(&self.txn)
                .await?
                .into_iter()
                .collect();
            for before in chunk {
                match current.get(&before.id) {
                    Some(&v) if v == before.version => {}
                    Some(&current) => return Err(WriteError::Conflict { current }),
                    None => return Err(WriteError::NotFound(format!("no offer {}", before.id))),
                }
            }
        }
        let columns = offer::Column::iter().filter(|c| !matches!(c, offer::Column::Id));
        let on_conflict = OnConflict::column(offer::Column::Id).update_columns(columns).to_owned();
        for chunk in afters.chunks(CHUNK) {
            // Every row exists (checked and locked above): the insert always meets its row and
            // updates it.
            let written = Offer::insert_many(chunk.iter().map(|o| o.clone().into_active_model()))
                .on_conflict(on_conflict.clone())
                .exec_without_returning(&self.txn)
                .await?;
            if written != chunk.len() as u64 {
                return Err(DbErr::Custom(format!("{written} of {} offers updated", chunk.len())).into());
            }
        }
        for (before, after) in befores.into_iter().zip(&afters) {
            self.record(after, action, Some(before))?;
        }
        Ok(afters)
    }

    /// A new version of an offer whose fields stay (its children change).
    pub async fn touch(
        &mut self,
        before: &offer::Model,
        expected: i32,
        action: RevisionAction,
    ) -> WriteResult<offer::Model> {
        self.update(before, before.clone(), expected, action).await
    }

    /// Replaces the themes of an offer; whether they changed.
    pub async fn set_themes(&mut self, id: &str, themes: &[String]) -> WriteResult<bool> {
        let wanted: BTreeSet<&str> = themes.iter().map(String::as_str).collect();
        let current: BTreeSet<String> = OfferTheme::find()
            .filter(offer_theme::Column::OfferId.eq(id))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|t| t.theme_code)
            .collect();
        if current.iter().map(String::as_str).eq(wanted.iter().copied()) {
            return Ok(false);
        }
        OfferTheme::delete_many().filter(offer_theme::Column::OfferId.eq(id)).exec(&self.txn).await?;
        if !wanted.is_empty() {
            OfferTheme::insert_many(
                wanted.iter().map(|t| offer_theme::ActiveModel {
                    offer_id: Set(id.to_owned()),
                    theme_code: Set((*t).to_owned()),
                }),
            )
            .exec(&self.txn)
            .await?;
        }
        Ok(true)
    }

    /// Replaces the occurrences of an event (each `end` at or after its `start`, at most 1,000,
    /// one per start); whether they changed.
    pub async fn set_occurrences(&mut self, id: &str, list: &[(DateTime<Utc>, DateTime<Utc>)]) -> WriteResult<bool> {
        Ok(self.set_occurrences_many(&[(id, list)]).await?.contains(&true))
    }

    /// Replaces the occurrences of several events at once, each list checked as by
    /// [`Writer::set_occurrences`] (an id given twice keeps its last list): one read, one delete
    /// and one insert per `CHUNK` events whatever their number. Whether each changed, in order.
    pub async fn set_occurrences_many(&mut self, lists: &[(&str, &[Occurrence])]) -> WriteResult<Vec<bool>> {
        let mut wanted: HashMap<&str, Vec<Occurrence>> = HashMap::with_capacity(lists.len());
        for (id, list) in lists {
            wanted.insert(id, settle_occurrences(&self.field("occurrences"), list)?);
        }
        let ids: Vec<&str> = wanted.keys().copied().collect();
        let mut current: HashMap<String, BTreeSet<Occurrence>> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let rows = EventOccurrence::find()
                .select_only()
                .columns([
                    event_occurrence::Column::OfferId,
                    event_occurrence::Column::StartsAt,
                    event_occurrence::Column::EndsAt,
                ])
                .filter(event_occurrence::Column::OfferId.is_in(chunk.iter().copied()))
                .into_tuple::<(String, DateTime<Utc>, DateTime<Utc>)>()
                .all(&self.txn)
                .await?;
            for (offer, start, end) in rows {
                current.entry(offer).or_default().insert((start, end));
            }
        }
        let changed: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| {
                let want = wanted.get(id).map_or(&[][..], Vec::as_slice);
                !current.get(*id).map_or(want.is_empty(), |now| now.iter().eq(want.iter()))
            })
            .collect();
        Occurrences::delete(&self.txn, &changed).await?;
        let mut occurrences = Occurrences::default();
        for id in &changed {
            occurrences.extend(id, wanted.remove(id).unwrap_or_default());
        }
        occurrences.insert(&self.txn).await?;
        let changed: HashSet<&str> = changed.into_iter().collect();
        Ok(lists.iter().map(|(id, _)| changed.contains(id)).collect())
    }

    /// Replaces the media of an offer (checked: http(s) URL, a licence of its own, at most 100);
    /// whether they changed.
    pub async fn set_media(&mut self, id: &str, list: Vec<media::Model>) -> WriteResult<bool> {
        Ok(self.set_media_many(vec![(id.to_owned(), list)]).await?.contains(&true))
    }

    /// Replaces the media of several offers at once, each list checked as by
    /// [`Writer::set_media`] (an id given twice keeps its last list): one read, one delete and
    /// one insert per `CHUNK` offers or media whatever their number. Whether each changed, in
    /// order.
    pub async fn set_media_many(&mut self, lists: Vec<(String, Vec<media::Model>)>) -> WriteResult<Vec<bool>> {
        let order: Vec<String> = lists.iter().map(|(id, _)| id.clone()).collect();
        let mut wanted: HashMap<String, Vec<media::Model>> = HashMap::with_capacity(lists.len());
        for (id, list) in lists {
            if list.len() > 100 {
                return Err(invalid(self.field("media"), "at most 100 items").into());
            }
            let mut checked = Vec::with_capacity(list.len());
            for (i, m) in list.into_iter().enumerate() {
                checked.push(check_media(m, &self.field(&format!("media[{i}]")), &id, i)?);
            }
            wanted.insert(id, checked);
        }
        let ids: Vec<&str> = wanted.keys().map(String::as_str).collect();
        let mut current: HashMap<String, Vec<media::Model>> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            for m in Media::find().filter(media::Column::OfferId.is_in(chunk.iter().copied())).all(&self.txn).await? {
                current.entry(m.offer_id.clone()).or_default().push(m);
            }
        }
        let changed: Vec<String> = wanted
            .iter()
            .filter(|(id, list)| {
                let mut now = current.remove(id.as_str()).unwrap_or_default();
                now.sort_by_key(|m| m.position);
                now != **list
            })
            .map(|(id, _)| id.clone())
            .collect();
        for chunk in changed.chunks(CHUNK) {
            Media::delete_many()
                .filter(media::Column::OfferId.is_in(chunk.iter().map(String::as_str)))
                .exec(&self.txn)
                .await?;
        }
        let rows: Vec<media::ActiveModel> = changed
            .iter()
            .flat_map(|id| wanted.remove(id).unwrap_or_default())
            .map(IntoActiveModel::into_active_model)
            .collect();
        for chunk in rows.chunks(CHUNK) {
            Media::insert_many(chunk.to_vec()).exec(&self.txn).await?;
        }
        let changed: HashSet<String> = changed.into_iter().collect();
        Ok(order.iter().map(|id| changed.contains(id)).collect())
    }

    /// Replaces the corrélats of a totem, in order (itself excluded, each once); whether they
    /// changed.
    pub async fn set_correlates(&mut self, totem: &str, offers: &[String]) -> WriteResult<bool> {
        let mut seen = BTreeSet::new();
        let wanted: Vec<&String> = offers.iter().filter(|o| o.as_str() != totem && seen.insert(o.as_str())).collect();
        let mut current =
            OfferCorrelate::find().filter(offer_correlate::Column::TotemId.eq(totem)).all(&self.txn).await?;
        current.sort_by_key(|c| c.position);
        if current.iter().map(|c| &c.offer_id).eq(wanted.iter().copied()) {
            return Ok(false);
        }
        OfferCorrelate::delete_many().filter(offer_correlate::Column::TotemId.eq(totem)).exec(&self.txn).await?;
        if !wanted.is_empty() {
            OfferCorrelate::insert_many(wanted.iter().enumerate().map(|(i, o)| offer_correlate::ActiveModel {
                totem_id: Set(totem.to_owned()),
                offer_id: Set((*o).clone()),
                position: Set(i32::try_from(i).unwrap_or(i32::MAX) + 1),
            }))
            .exec(&self.txn)
            .await?;
        }
        Ok(true)
    }

    /// Writes the route facts of a route offer and its stages, in order; whether they changed.
    pub async fn set_route(&mut self, facts: route::Model, stages: &[String]) -> WriteResult<bool> {
        let id = facts.offer_id.clone();
        let facts = route::Model { practices: facts.practices.check(&self.field("practices"))?, ..facts };
        if !(facts.length_meters.is_finite() && facts.length_meters >= 0.0) {
            return Err(invalid(self.field("lengthMeters"), "a length in metres").into());
        }
        let current = Route::find_by_id(id.clone()).one(&self.txn).await?;
        let mut current_stages =
            RouteStage::find().filter(route_stage::Column::RouteId.eq(id.as_str())).all(&self.txn).await?;
        current_stages.sort_by_key(|s| s.position);
        let same_stages = current_stages.iter().map(|s| &s.offer_id).eq(stages.iter());
        if current.as_ref() == Some(&facts) && same_stages {
            return Ok(false);
        }
        match current {
            Some(c) if c == facts => {}
            Some(_) => {
                facts.clone().into_active_model().reset_all().update(&self.txn).await?;
            }
            None => {
                facts.clone().into_active_model().insert(&self.txn).await?;
            }
        }
        if !same_stages {
            RouteStage::delete_many().filter(route_stage::Column::RouteId.eq(id.as_str())).exec(&self.txn).await?;
            if !stages.is_empty() {
                RouteStage::insert_many(stages.iter().enumerate().map(|(i, o)| route_stage::ActiveModel {
                    route_id: Set(id.clone()),
                    position: Set(i32::try_from(i).unwrap_or(i32::MAX) + 1),
                    offer_id: Set(o.clone()),
                }))
                .exec(&self.txn)
                .await?;
            }
        }
        Ok(true)
    }

    /// Says why in the revision this unit wrote last for `offer_id` (e.g. "left the register").
    pub fn annotate(&mut self, offer_id: &str, note: &str) {
        if let Some(r) = self.revisions.iter_mut().rev().find(|r| r.offer_id.as_ref() == offer_id) {
            r.note = Set(Some(note.to_owned()));
        }
    }

    /// Notes that reference data (communes, themes) changed in this unit: instances rebuild their
    /// snapshot from it.
    pub fn reference_changed(&mut self) {
        self.reference = true;
    }

    /// Notes that this unit wrote rows beside the catalog that no reader of it sees (an
    /// importer's digests, see `seed`): they are committed even when no offer changed, without a
    /// catalog version.
    pub fn wrote_aside(&mut self) {
        self.aside = true;
    }

    /// Gives up: nothing is written.
    pub async fn rollback(self) -> WriteResult<()> {
        Ok(self.txn.rollback().await?)
    }

    /// Commits: takes the next catalog version, stamps the changed offers and revisions with it,
    /// records it in `catalog_changes`. A unit that changed nothing takes no version (`None`),
    /// and commits only what it wrote aside (see [`Writer::wrote_aside`]).
    pub async fn commit(mut self) -> WriteResult<Option<Committed>> {
        if self.changes.is_empty() && !self.reference {
            if self.aside {
                self.txn.commit().await?;
            } else {
                self.txn.rollback().await?;
            }
            return Ok(None);
        }
        let now = Utc::now();
        let ids: Vec<&str> = {
            let mut seen = BTreeSet::new();
            self.changes.iter().map(|c| c.offer_id.as_str()).filter(|id| seen.insert(*id)).collect()
        };
        let scope = if self.reference { ChangeScope::Reference } else { ChangeScope::Offers };
        let offers = i32::try_from(ids.len()).unwrap_or(i32::MAX);
        let one_statement = self.txn.get_database_backend() == DbBackend::Postgres
            && ids.len() <= CHUNK
            && self.revisions.len() <= CHUNK;
        let version = if one_statement {
            // The revisions go in unstamped first: the version row's lock is then held for
            // one statement and the commit, not for every insert.
            let revisions = std::mem::take(&mut self.revisions);
            let revision_ids = if revisions.is_empty() {
                Vec::new()
            } else {
                Revision::insert_many(revisions).exec_with_returning_keys(&self.txn).await?
            };
            stamp_in_one_statement(&self.txn, &ids, &revision_ids, scope, offers, now).await?
        } else {
            let version = take_version(&self.txn, now).await?;
            for chunk in ids.chunks(CHUNK) {
                Offer::update_many()
                    .col_expr(offer::Column::CatalogVersion, Expr::value(version))
                    .filter(offer::Column::Id.is_in(chunk.iter().copied()))
                    .exec(&self.txn)
                    .await?;
            }
            let mut revisions = std::mem::take(&mut self.revisions);
            for r in &mut revisions {
                r.catalog_version = Set(Some(version));
            }
            while !revisions.is_empty() {
                let rest = revisions.split_off(revisions.len().min(CHUNK));
                Revision::insert_many(std::mem::replace(&mut revisions, rest)).exec(&self.txn).await?;
            }
            catalog_change::ActiveModel {
                version: Set(version),
                scope: Set(scope),
                offers: Set(offers),
                created_at: Set(now),
            }
            .insert(&self.txn)
            .await?;
            version
        };
        self.txn.commit().await?;
        Ok(Some(Committed { version, changes: self.changes, scope }))
    }
}

/// Takes the next catalog version: the row lock it takes is held until the commit, and a second
/// writer waits here for the first to commit, so versions follow commit order.
async fn take_version(txn: &DatabaseTransaction, now: DateTime<Utc>) -> WriteResult<i64> {
    let bump = Query::update()
        .table(catalog_state::Entity)
        .value(catalog_state::Column::Version, Expr::col(catalog_state::Column::Version).add(1))
        .value(catalog_state::Column::UpdatedAt, now)
        .and_where(catalog_state::Column::Id.eq(1))
        .returning(Query::returning().column(catalog_state::Column::Version))
        .to_owned();
    let row = txn.query_one(&bump).await?.ok_or_else(|| DbErr::RecordNotFound("the catalog_state row".into()))?;
    Ok(row.try_get("", "version")?)
}

/// PostgreSQL: takes the next catalog version, stamps it on the unit's offers and (already
/// inserted) revisions and records it in `catalog_changes`, in one statement — the version row
/// stays locked from here to the commit, one round trip later, whatever else the unit wrote.
async fn stamp_in_one_statement(
    txn: &DatabaseTransaction,
    offer_ids: &[&str],
    revision_ids: &[i64],
    scope: ChangeScope,
    offers: i32,
    now: DateTime<Utc>,
) -> WriteResult<i64> {
    use sea_orm::{ActiveEnum, Statement, Value};
    let mut values: Vec<Value> = vec![now.into(), scope.to_value().into(), offers.into()];
    let mut list = |items: Vec<Value>| {
        let first = values.len() + 1;
        let n = items.len();
        values.extend(items);
        // `IN ()` is not SQL: an empty list matches nothing through a NULL.
        if n == 0 {
            "NULL".to_owned()
        } else {
            (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
        }
    };
    let offer_list = list(offer_ids.iter().map(|id| Value::from(*id)).collect());
    let revision_list = list(revision_ids.iter().map(|id| Value::from(*id)).collect());
    let sql = format!(
        "WITH v AS (UPDATE catalog_state SET version = version + 1, updated_at = $1 WHERE id = 1 RETURNING version), \
         o AS (UPDATE offers SET catalog_version = v.version FROM v WHERE offers.id IN ({offer_list})), \
         r AS (UPDATE revisions SET catalog_version = v.version FROM v WHERE revisions.id IN ({revision_list})), \
         c AS (INSERT INTO catalog_changes (version, scope, offers, created_at) SELECT v.version, $2, $3, $1 FROM v) \
         SELECT version FROM v"
    );
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the catalog_state row".into()))?;
    Ok(row.try_get("", "version")?)
}

/// Occurrences to insert, event by event: an import writes about ninety per object.
#[derive(Default)]
struct Occurrences {
    /// The events, each once, with how many of `starts` and `ends` are theirs, in order.
    events: Vec<(String, usize)>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
}

/// Occurrences in one statement on PostgreSQL (two array parameters, whatever their number of
/// events; 40,000 occurrences weigh about 640 kB).
const OCCURRENCES_PER_STATEMENT: usize = 40_000;

impl Occurrences {
    /// Adds an event's occurrences (settled: in order, one per start); none adds nothing.
    fn extend(&mut self, offer: &str, list: Vec<(DateTime<Utc>, DateTime<Utc>)>) {
        if list.is_empty() {
            return;
        }
        self.events.push((offer.to_owned(), list.len()));
        for (s, e) in list {
            self.starts.push(s);
            self.ends.push(e);
        }
    }

    /// Deletes the occurrences of `offers`: on PostgreSQL their rows of `event_dates` (the view
    /// `event_occurrences` would delete occurrence by occurrence), elsewhere their rows.
    async fn delete(txn: &DatabaseTransaction, offers: &[&str]) -> WriteResult<()> {
        let postgres = txn.get_database_backend() == DbBackend::Postgres;
        for chunk in offers.chunks(CHUNK) {
            if postgres {
                let delete = Query::delete()
                    .from_table(Alias::new("event_dates"))
                    .and_where(Expr::col(Alias::new("offer_id")).is_in(chunk.iter().copied()))
                    .to_owned();
                txn.execute(&delete).await?;
            } else {
                EventOccurrence::delete_many()
                    .filter(event_occurrence::Column::OfferId.is_in(chunk.iter().copied()))
                    .exec(txn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Inserts the occurrences: on PostgreSQL one row of `event_dates` per event, its starts and
    /// ends as slices of two array parameters (one statement per `OCCURRENCES_PER_STATEMENT`
    /// occurrences, so that the events' ids are sent once each); elsewhere one row per
    /// occurrence, in statements of `CHUNK` rows.
    async fn insert(self, txn: &DatabaseTransaction) -> WriteResult<()> {
        use sea_orm::{Statement, Value};
        let Occurrences { events, starts, ends } = self;
        if txn.get_database_backend() == DbBackend::Postgres {
            let sql = "INSERT INTO event_dates (offer_id, starts, ends) \
                       SELECT e.offer_id, ($4::timestamptz[])[e.first:e.last], ($5::timestamptz[])[e.first:e.last] \
                       FROM UNNEST($1::varchar[], $2::int4[], $3::int4[]) AS e(offer_id, first, last)";
            let (mut events, mut at) = (events.into_iter().peekable(), 0);
            while events.peek().is_some() {
                let (mut ids, mut firsts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
                let from = at;
                while let Some((id, n)) =
                    events.next_if(|(_, n)| ids.is_empty() || at - from + n <= OCCURRENCES_PER_STATEMENT)
                {
                    // Slices of the statement's arrays, from 1; each event holds at most 1,000.
                    let first = i32::try_from(at - from + 1).map_err(|e| DbErr::Custom(e.to_string()))?;
                    let last = i32::try_from(at - from + n).map_err(|e| DbErr::Custom(e.to_string()))?;
                    ids.push(id);
                    firsts.push(first);
                    lasts.push(last);
                    at += n;
                }
                let values = [
                    Value::from(ids),
                    Value::from(firsts),
                    Value::from(lasts),
                    Value::from(starts[from..at].to_vec()),
                    Value::from(ends[from..at].to_vec()),
                ];
                txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
            }
            return Ok(());
        }
        let (mut starts, mut ends) = (starts.into_iter(), ends.into_iter());
        let rows: Vec<event_occurrence::ActiveModel> = events
            .into_iter()
            .flat_map(|(offer_id, n)| {
                let list: Vec<_> = starts.by_ref().take(n).zip(ends.by_ref().take(n)).collect();
                list.into_iter().map(move |(s, e)| event_occurrence::ActiveModel {
                    offer_id: Set(offer_id.clone()),
                    starts_at: Set(s),
                    ends_at: Set(e),
                })
            })
            .collect();
        for chunk in rows.chunks(CHUNK) {
            EventOccurrence::insert_many(chunk.to_vec()).exec(txn).await?;
        }
        Ok(())
    }
}

/// Checks a whole offer as it is about to be written: every field, whoever writes it.
pub fn check_offer(o: &offer::Model, prefix: &str) -> Result<(), Invalid> {
    let f = |path: &str| format!("{prefix}{path}");
    if uuid::Uuid::parse_str(&o.id).is_err() {
        return Err(invalid(f("id"), "a UUID"));
    }
    let name = o.name.check(&f("name"), MAX_NAME, true)?;
    if name != o.name {
        return Err(invalid(f("name"), "texts must be trimmed and without empty entries"));
    }
    for (field, texts, max) in
        [("shortDescription", &o.short_description, MAX_SHORT), ("description", &o.description, MAX_TEXT)]
    {
        if let Some(t) = texts {
            t.check(&f(field), max, false)?;
        }
    }
    check::position(&f("location"), o.lon, o.lat)?;
    if let Some(g) = &o.geometry {
        let value: serde_json::Value =
            serde_json::from_str(g).map_err(|e| invalid(f("geometry"), format!("not JSON: {e}")))?;
        geometry::footprint(&value).map_err(|m| invalid(f("geometry"), m))?;
    }
    let [w, s, e, n] = [o.min_lon, o.min_lat, o.max_lon, o.max_lat];
    if !(w <= o.lon && o.lon <= e && s <= o.lat && o.lat <= n) && o.geometry.is_none() {
        return Err(invalid(f("location"), "the bounding box must hold the point"));
    }
    if let Some(c) = &o.commune_insee
        && (c.len() != 5 || !c.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(invalid(f("commune"), "an INSEE code of five characters"));
    }
    o.classes.check(&f("classes"))?;
    o.labels.check(&f("labels"))?;
    if let Some(a) = &o.address {
        a.check(&f("address"))?;
    }
    if let Some(c) = &o.contacts {
        c.check(&f("contact"))?;
    }
    if let Some(h) = &o.opening_hours {
        check::text(&f("openingHours"), h, hours::MAX_LENGTH)?;
        hours::check(h)
            .map_err(|e| invalid(f("openingHours"), format!("not OpenStreetMap opening_hours syntax: {e}")))?;
    }
    if let Some(t) = &o.opening_hours_text {
        check::text(&f("openingHoursText"), t, 2000)?;
    }
    if let Some(p) = &o.prices {
        p.check(&f("prices"))?;
    }
    if let Some(a) = &o.accessibility {
        a.check(&f("accessibility"))?;
    }
    if let Some(c) = &o.capacity {
        c.check(&f("capacity"))?;
    }
    if let Some(c) = &o.classification {
        c.check(&f("classification"))?;
    }
    for (field, v, max) in [
        ("source.name", &o.source, 100),
        ("source.id", &o.source_id, 500),
        ("source.licence", &o.source_licence, 200),
        ("source.attribution", &o.source_attribution, 500),
    ] {
        if check::line(&f(field), v, max)?.is_empty() {
            return Err(invalid(f(field), "required"));
        }
    }
    if let Some(u) = &o.source_url {
        check::url(&f("source.url"), u)?;
    }
    if let Some(owner) = &o.owner {
        check::line(&f("owner"), owner, 100)?;
    }
    Ok(())
}

/// The occurrences of an event as stored: at most 1,000, none ending before it starts, one per
/// start, in order.
fn settle_occurrences(field: &str, list: &[Occurrence]) -> Result<Vec<Occurrence>, Invalid> {
    if list.len() > 1000 {
        return Err(invalid(field, "at most 1,000 occurrences"));
    }
    let mut wanted: Vec<Occurrence> = Vec::with_capacity(list.len());
    let mut starts = BTreeSet::new();
    for (i, (start, end)) in list.iter().enumerate() {
        if end < start {
            return Err(invalid(format!("{field}[{i}].end"), "the end is before the start"));
        }
        if starts.insert(*start) {
            wanted.push((*start, *end));
        }
    }
    wanted.sort();
    Ok(wanted)
}

/// The slugs a name gives an offer, in order of preference: the name, then with the start of the
/// id, then with the whole id (the same event in two towns).
pub fn slugs_from_name(o: &offer::Model) -> Vec<String> {
    let base = slug::slugify(o.name.fr.as_deref().unwrap_or(""));
    let base: String = base.chars().take(100).collect::<String>().trim_end_matches('-').to_owned();
    let short: String = o.id.chars().take(8).collect();
    let mut candidates = vec![base.clone(), format!("{base}-{short}"), format!("{base}-{}", o.id)];
    candidates.retain(|c| slug::is_slug(c));
    candidates
}

/// Checks a media item and settles its id and position.
fn check_media(m: media::Model, field: &str, offer: &str, position: usize) -> Result<media::Model, Invalid> {
    let url = check::url(&format!("{field}.url"), &m.url)?;
    let licence = m.licence.as_deref().map(|l| check::line(&format!("{field}.licence"), l, 200)).transpose()?;
    if licence.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(format!("{field}.licence"), "required, at most 200 characters"));
    }
    let credit = m.credit.as_deref().map(|c| check::line(&format!("{field}.credit"), c, 200)).transpose()?;
    let title = m.title.as_ref().map(|t| t.check(&format!("{field}.title"), 300, false)).transpose()?;
    let mime_type = m.mime_type.as_deref().map(|t| check::line(&format!("{field}.mimeType"), t, 100)).transpose()?;
    Ok(media::Model {
        id: if m.id.is_empty() { crate::domain::ids::child_id(offer, &url) } else { m.id },
        offer_id: offer.to_owned(),
        position: i32::try_from(position).unwrap_or(i32::MAX) + 1,
        kind: m.kind,
        url,
        title: title.filter(|t: &Texts| !t.is_empty()),
        licence,
        credit: credit.filter(|c| !c.is_empty()),
        mime_type: mime_type.filter(|t| !t.is_empty()),
    })
}

/// The current catalog version.
pub async fn catalog_version<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(CatalogState::find_by_id(1).one(db).await?.map_or(0, |s| s.version))
}
