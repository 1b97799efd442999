//! The tourism observatory: `stats` in GraphQL for editors (the offer by kind, theme and commune,
//! accommodation capacity, QR scans, stale offers) and `/metrics` for Prometheus.

pub mod metrics;

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Object, SimpleObject};
use chrono::{Duration, NaiveDate, Utc};
use entities::prelude::{QrCode, QrScan};
use sea_orm::EntityTrait;

use crate::error::Error;
use crate::graphql::context::caller;
use crate::graphql::context::catalog;
use crate::offers::types::OfferNode;
use crate::state::AppState;

/// A count under a key.
#[derive(SimpleObject, Clone, Debug)]
pub struct Count {
    /// What is counted (a kind, a theme code, an INSEE code, a QR code, a day).
    pub key: String,
    /// A readable label, when there is one.
    pub label: Option<String>,
    /// How many.
    pub count: i64,
}

/// Accommodation of a commune.
#[derive(SimpleObject, Clone, Debug)]
pub struct Accommodation {
    /// INSEE code.
    pub commune: String,
    /// Commune name.
    pub name: String,
    /// Published accommodation offers.
    pub offers: i64,
    /// Beds, as declared.
    pub beds: i64,
}

/// The capacity of the published accommodation under a key (a commune, a type of establishment).
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct CapacityTotal {
    /// An INSEE code, or a type of establishment (`hotel`, `campsite`…, `unclassified`).
    pub key: String,
    /// The commune's name, or the type's.
    pub label: String,
    /// Published accommodation offers.
    pub offers: i64,
    /// Of which classified in Atout France's register.
    pub classified: i64,
    /// People they can host, as declared.
    pub people: i64,
    /// Beds.
    pub beds: i64,
    /// Rooms.
    pub rooms: i64,
    /// Pitches.
    pub pitches: i64,
    /// Units.
    pub units: i64,
}

impl CapacityTotal {
    fn add(&mut self, o: &crate::catalog::OfferRecord) {
        let n = |v: Option<i32>| v.map_or(0, i64::from);
        self.offers += 1;
        self.classified += i64::from(o.classification.is_some());
        if let Some(c) = o.capacity.as_deref() {
            self.people += n(c.people);
            self.beds += n(c.beds);
            self.rooms += n(c.rooms);
            self.pitches += n(c.pitches);
            self.units += n(c.units);
        }
    }
}

/// Labels of the types of establishment.
fn type_label(t: Option<entities::vocab::AccommodationType>) -> &'static str {
    use entities::vocab::AccommodationType as T;
    match t {
        Some(T::Hotel) => "Hôtels de tourisme",
        Some(T::Campsite) => "Campings",
        Some(T::TouristResidence) => "Résidences de tourisme",
        Some(T::HolidayVillage) => "Villages de vacances",
        Some(T::ResidentialLeisurePark) => "Parcs résidentiels de loisirs",
        Some(T::CollectiveHostel) => "Auberges collectives",
        None => "Hébergements non classés",
    }
}

/// Scans of one target.
#[derive(SimpleObject, Clone, Debug)]
pub struct TargetScans {
    /// offer, route or theme.
    pub kind: String,
    /// Id of the offer or theme code.
    pub id: String,
    /// Its name, when it is public.
    pub name: Option<String>,
    /// Resolutions.
    pub scans: i64,
}

/// The observatory.
pub struct Stats;

fn sorted(map: BTreeMap<String, i64>, labels: &HashMap<String, String>) -> Vec<Count> {
    let mut v: Vec<Count> =
        map.into_iter().map(|(key, count)| Count { label: labels.get(&key).cloned(), key, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

#[Object]
impl Stats {
    /// Published offers by kind.
    async fn offers_by_kind(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Count>> {
        let c = catalog(ctx)?;
        let mut m = BTreeMap::new();
        for o in c.by_name() {
            *m.entry(o.kind.code().to_owned()).or_insert(0) += 1;
        }
        Ok(sorted(m, &HashMap::new()))
    }
    /// Published offers by theme.
    async fn offers_by_theme(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Count>> {
        let c = catalog(ctx)?;
        let mut m: BTreeMap<String, i64> = c.themes.iter().map(|t| (t.code.clone(), 0)).collect();
        for o in c.by_name() {
            for t in &o.themes {
                *m.entry(t.to_string()).or_insert(0) += 1;
            }
        }
        let labels = c
            .themes
            .iter()
            .filter_map(|t| Some((t.code.clone(), t.name.get(crate::lang::Lang::Fr)?.0.to_owned())))
            .collect();
        Ok(sorted(m, &labels))
    }
    /// Published offers by commune (every commune, even without offer).
    async fn offers_by_commune(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Count>> {
        let c = catalog(ctx)?;
        let mut m: BTreeMap<String, i64> = c.communes.iter().map(|x| (x.insee.clone(), 0)).collect();
        for o in c.by_name() {
            if let Some(code) = &o.commune {
                *m.entry(code.to_string()).or_insert(0) += 1;
            }
        }
        let labels = c.communes.iter().map(|x| (x.insee.clone(), x.name.clone())).collect();
        Ok(sorted(m, &labels))
    }
    /// Accommodation offers and beds per commune.
    async fn accommodation_by_commune(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Accommodation>> {
        let c = catalog(ctx)?;
        let mut m: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for o in c.by_name().filter(|o| o.kind == entities::vocab::OfferKind::Accommodation) {
            let Some(code) = &o.commune else { continue };
            let e = m.entry(code.to_string()).or_insert((0, 0));
            e.0 += 1;
            e.1 += o.capacity.as_ref().and_then(|cap| cap.beds).map_or(0, i64::from);
        }
        Ok(m.into_iter()
            .map(|(commune, (offers, beds))| Accommodation {
                name: c.commune(&commune).map(|x| x.name.clone()).unwrap_or_default(),
                commune,
                offers,
                beds,
            })
            .collect())
    }
    /// Capacity of the published accommodation per commune of the territory (those with some),
    /// the base of the tourist tax and of the observatory.
    async fn capacity_by_commune(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CapacityTotal>> {
        let c = catalog(ctx)?;
        let mut m: BTreeMap<String, CapacityTotal> = BTreeMap::new();
        for o in c.by_name().filter(|o| o.kind == entities::vocab::OfferKind::Accommodation && o.in_territory) {
            let Some(code) = &o.commune else { continue };
            m.entry(code.to_string())
                .or_insert_with(|| CapacityTotal {
                    key: code.to_string(),
                    label: c.commune(code).map(|x| x.name.clone()).unwrap_or_default(),
                    ..Default::default()
                })
                .add(o);
        }
        let mut v: Vec<CapacityTotal> = m.into_values().collect();
        v.sort_by(|a, b| b.people.cmp(&a.people).then_with(|| a.key.cmp(&b.key)));
        Ok(v)
    }
    /// Capacity of the published accommodation of the territory per type of establishment
    /// (Atout France's types; `unclassified` for the rest).
    async fn capacity_by_type(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CapacityTotal>> {
        let c = catalog(ctx)?;
        let mut m: BTreeMap<&'static str, CapacityTotal> = BTreeMap::new();
        for o in c.by_name().filter(|o| o.kind == entities::vocab::OfferKind::Accommodation && o.in_territory) {
            let t = o.classification.as_deref().map(|c| c.typology);
            let key = t.map_or("unclassified", |t| t.code());
            m.entry(key)
                .or_insert_with(|| CapacityTotal {
                    key: key.to_owned(),
                    label: type_label(t).to_owned(),
                    ..Default::default()
                })
                .add(o);
        }
        let mut v: Vec<CapacityTotal> = m.into_values().collect();
        v.sort_by(|a, b| b.people.cmp(&a.people).then_with(|| a.key.cmp(&b.key)));
        Ok(v)
    }
    /// Scans per code, most scanned first.
    async fn scans_by_code(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Count>> {
        let scans = scans(ctx).await?;
        let mut m = BTreeMap::new();
        for s in scans {
            *m.entry(s.code).or_insert(0) += s.count;
        }
        Ok(sorted(m, &HashMap::new()))
    }
    /// Scans per day (UTC), oldest first, within `[from, to]` (default: the last 30 days).
    async fn scans_by_day(
        &self,
        ctx: &Context<'_>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> async_graphql::Result<Vec<Count>> {
        let to = to.unwrap_or_else(|| Utc::now().date_naive());
        let from = from.unwrap_or(to - Duration::days(30));
        let mut m = BTreeMap::new();
        for s in scans(ctx).await?.into_iter().filter(|s| s.day >= from && s.day <= to) {
            *m.entry(s.day.to_string()).or_insert(0) += s.count;
        }
        Ok(m.into_iter().map(|(key, count)| Count { key, label: None, count }).collect())
    }
    /// Scans per target (an offer, a route or a theme), most scanned first.
    async fn scans_by_target(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<TargetScans>> {
        let first = first.unwrap_or(50);
        let state = ctx.data::<AppState>()?;
        let c = catalog(ctx)?;
        let codes = QrCode::find().all(&state.db).await.map_err(|e| Error::from(e).into_graphql())?;
        let target_of: HashMap<String, (String, String)> =
            codes.into_iter().map(|q| (q.code, (q.target_kind, q.target_id))).collect();
        let mut m: BTreeMap<(String, String), i64> = BTreeMap::new();
        for s in scans(ctx).await? {
            if let Some(t) = target_of.get(&s.code) {
                *m.entry(t.clone()).or_insert(0) += s.count;
            }
        }
        let mut v: Vec<TargetScans> = m
            .into_iter()
            .map(|((kind, id), scans)| {
                let name = match kind.as_str() {
                    "theme" => c.theme(&id).and_then(|t| t.name.get(crate::lang::Lang::Fr).map(|n| n.0.to_owned())),
                    _ => c.by_id(&id).and_then(|o| o.name.get(crate::lang::Lang::Fr).map(|n| n.0.to_owned())),
                };
                TargetScans { kind, id, name, scans }
            })
            .collect();
        v.sort_by(|a, b| b.scans.cmp(&a.scans).then_with(|| a.id.cmp(&b.id)));
        v.truncate(usize::try_from(first.clamp(0, 1000)).unwrap_or(0));
        Ok(v)
    }
    /// The most scanned places (offers and routes).
    async fn most_scanned(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<TargetScans>> {
        let first = first.unwrap_or(10);
        let all = self.scans_by_target(ctx, Some(1000)).await?;
        Ok(all
            .into_iter()
            .filter(|t| t.kind != "theme")
            .take(usize::try_from(first.clamp(0, 100)).unwrap_or(0))
            .collect())
    }
    /// Published offers not updated for a year, oldest first.
    async fn stale_offers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<OfferNode>> {
        let first = first.unwrap_or(50);
        let c = catalog(ctx)?;
        let limit = Utc::now() - Duration::days(365);
        let mut stale: Vec<_> = c.by_name().filter(|o| o.updated_at < limit).collect();
        stale.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id)));
        let lang = crate::graphql::context::lang(ctx, None);
        Ok(stale
            .into_iter()
            .take(usize::try_from(first.clamp(0, 1000)).unwrap_or(0))
            .map(|o| OfferNode::new(&c, o, lang))
            .collect())
    }
}

async fn scans(ctx: &Context<'_>) -> async_graphql::Result<Vec<entities::qr_scan::Model>> {
    let state = ctx.data::<AppState>()?;
    QrScan::find().all(&state.db).await.map_err(|e| Error::from(e).into_graphql())
}

/// The `stats` root field.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The tourism observatory (editors and admins).
    async fn stats(&self, ctx: &Context<'_>) -> async_graphql::Result<Stats> {
        caller(ctx).require_editor().map_err(Error::into_graphql)?;
        Ok(Stats)
    }
}
