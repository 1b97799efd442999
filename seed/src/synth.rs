//! Synthetic offers for scale tests only (`api seed synth --offers N`): clearly fictional records
//! (source `synthetic`, names saying so) shaped like the real ones — kinds, texts in four
//! languages, footprints, events with dates, routes — spread over the Hauts-de-France box.
//! Never loaded by default.

use chrono::{Duration, TimeZone, Utc};
use entities::domain::geometry;
use entities::domain::ids::offer_id;
use entities::values::{Capacity, Codes, Texts};
use entities::vocab::{GeoPrecision, LinePrecision, OfferKind, OfferStatus, RevisionAction};
use entities::write::{NewOffer, WriteError, Writer};
use entities::{offer, route};
use sea_orm::DatabaseConnection;

/// Source name of synthetic records.
pub const SOURCE: &str = "synthetic";
/// The Hauts-de-France box (west, south, east, north).
pub const BOX: [f64; 4] = [1.38, 48.83, 4.26, 51.09];

/// A small deterministic generator (splitmix64): the same seed gives the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const KINDS: [OfferKind; 7] = [
    OfferKind::Site,
    OfferKind::Site,
    OfferKind::Accommodation,
    OfferKind::Accommodation,
    OfferKind::Event,
    OfferKind::Restaurant,
    OfferKind::Activity,
];
const THEMES: [&str; 5] = ["decouverte", "nature", "sport", "bien-etre", "fluvestre"];
const WORDS: [&str; 12] = [
    "terril",
    "forêt",
    "canal",
    "abbaye",
    "cité",
    "musée",
    "étang",
    "pavés",
    "source",
    "chevalement",
    "marais",
    "halle",
];

/// Offers written per unit of work.
const BATCH: usize = 1000;

/// Writes `n` synthetic offers through the write path, a batch per unit of work (one catalog
/// version each), with a progress report; returns how many were written.
pub async fn generate(db: &DatabaseConnection, n: usize, seed: u64) -> Result<usize, WriteError> {
    let mut rng = Rng(seed);
    let now = Utc::now();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).single().unwrap_or(now);
    let mut written = 0;
    let mut progress = crate::progress::bar(n as u64, "synthetic offers");
    let mut i = 0;
    while i < n {
        let mut batch = Vec::with_capacity(BATCH);
        for j in i..(i + BATCH).min(n) {
            let id = offer_id(SOURCE, &format!("{seed}:{j}"));
            let kind = if rng.next().is_multiple_of(50) { OfferKind::Route } else { *rng.pick(&KINDS) };
            let lon = BOX[0] + rng.unit() * (BOX[2] - BOX[0]);
            let lat = BOX[1] + rng.unit() * (BOX[3] - BOX[1]);
            let word = rng.pick(&WORDS);
            let name = format!("Lieu fictif n°{j} – {word}");
            let geometry = if kind == OfferKind::Route {
                let pts: Vec<(f64, f64)> =
                    (0..8).map(|k| (lon + 0.004 * f64::from(k), lat + 0.003 * (f64::from(k) * 0.7).sin())).collect();
                Some(geo::Geometry::LineString(pts.into()))
            } else if rng.next().is_multiple_of(5) {
                let r = 0.001 + rng.unit() * 0.004;
                let ring: Vec<(f64, f64)> = (0..=6)
                    .map(|k| {
                        let a = f64::from(k % 6) * std::f64::consts::PI / 3.0;
                        (lon + r * a.cos(), lat + r * 0.64 * a.sin())
                    })
                    .collect();
                Some(geo::Geometry::Polygon(geo::Polygon::new(ring.into(), vec![])))
            } else {
                None
            };
            let (gjson, bbox) = match &geometry {
                Some(g) => {
                    (Some(geometry::to_geojson(g).to_string()), geometry::bbox(g).unwrap_or([lon, lat, lon, lat]))
                }
                None => (None, [lon, lat, lon, lat]),
            };
            let offer = offer::Model {
                id: id.clone(),
                slug: format!("lieu-fictif-{seed}-{j}"),
                kind,
                classes: Codes(vec!["PlaceOfInterest".into()]),
                is_totem: false,
                name: Texts {
                    fr: Some(name),
                    en: Some(format!("Fictional place no. {j} – {word}")),
                    nl: Some(format!("Fictieve plek nr. {j}")),
                    de: Some(format!("Fiktiver Ort Nr. {j}")),
                },
                short_description: Some(Texts {
                    fr: Some(format!("Enregistrement fictif pour les tests de charge : {word} près de nulle part.")),
                    en: Some("Fictional record for load tests.".into()),
                    ..Texts::default()
                }),
                description: None,
                lon,
                lat,
                geo_precision: GeoPrecision::Exact,
                geometry: gjson,
                min_lon: bbox[0],
                min_lat: bbox[1],
                max_lon: bbox[2],
                max_lat: bbox[3],
                commune_insee: None,
                in_territory: false,
                address: None,
                contacts: None,
                opening_hours: rng.next().is_multiple_of(3).then(|| "Mo-Fr 09:00-18:00; Sa 10:00-12:00".to_owned()),
                opening_hours_text: None,
                prices: None,
                accessibility: None,
                labels: Codes::default(),
                capacity: (kind == OfferKind::Accommodation)
                    .then(|| Capacity { beds: i32::try_from(2 + rng.next() % 20).ok(), ..Capacity::default() }),
                source: SOURCE.into(),
                source_id: format!("{seed}:{j}"),
                source_licence: "CC0 1.0 (fictional test data)".into(),
                source_attribution: "Synthetic, fictional data generated for scale tests".into(),
                source_url: None,
                source_updated_at: None,
                owner: None,
                status: OfferStatus::Published,
                version: 1,
                created_at: now,
                updated_at: now,
                deleted_at: None,
                catalog_version: 0,
                published_once: false,
                classification: None,
            };
            let occurrences = if kind == OfferKind::Event {
                (0..3)
                    .map(|k| {
                        let start = base + Duration::days((rng.next() % 365) as i64) + Duration::hours(k);
                        (start, start + Duration::hours(3))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let route = (kind == OfferKind::Route).then(|| {
                let facts = route::Model {
                    offer_id: id.clone(),
                    length_meters: 2000.0,
                    practices: Codes(vec!["walking".into()]),
                    difficulty: None,
                    line_precision: LinePrecision::Schematic,
                };
                (facts, Vec::new())
            });
            batch.push(NewOffer {
                offer,
                themes: vec![(*rng.pick(&THEMES)).to_owned()],
                occurrences,
                route,
                media: Vec::new(),
            });
        }
        let mut w = Writer::begin(db, "synthetic", "").await?;
        let count = w.create_many(batch, RevisionAction::Import).await?;
        w.commit().await?;
        written += count;
        progress.inc(count as u64);
        i += BATCH;
    }
    progress.finish_and_clear();
    Ok(written)
}
