//! Synthetic offers for scale tests only (`api seed synth --offers N`): clearly fictional records
//! (source `synthetic`, names saying so) shaped like the real ones — kinds, texts in four
//! languages, footprints, events with dates, routes — spread over the Hauts-de-France box.
//! Never loaded by default.

use chrono::{Duration, TimeZone, Utc};
use entities::{event_occurrence, offer, offer_theme, route};
use sea_orm::{DatabaseConnection, EntityTrait, Set, TransactionTrait};
use serde_json::json;

use crate::geometry;
use crate::load::{bump_catalog_version, offer_id};

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

const KINDS: [&str; 7] = ["site", "site", "accommodation", "accommodation", "event", "restaurant", "activity"];
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

/// Inserts `n` synthetic offers in batches; returns how many were written.
pub async fn generate(db: &DatabaseConnection, n: usize, seed: u64) -> Result<usize, sea_orm::DbErr> {
    let mut rng = Rng(seed);
    let now = Utc::now();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).single().unwrap_or(now);
    let mut written = 0;
    let batch = 500;
    let mut i = 0;
    while i < n {
        let txn = db.begin().await?;
        let version = bump_catalog_version(&txn).await?;
        let mut offers = Vec::new();
        let mut themes = Vec::new();
        let mut occurrences = Vec::new();
        let mut routes = Vec::new();
        for j in i..(i + batch).min(n) {
            let id = offer_id(SOURCE, &format!("{seed}:{j}"));
            let kind = if rng.next().is_multiple_of(50) { "route" } else { *rng.pick(&KINDS) };
            let lon = BOX[0] + rng.unit() * (BOX[2] - BOX[0]);
            let lat = BOX[1] + rng.unit() * (BOX[3] - BOX[1]);
            let word = rng.pick(&WORDS);
            let name = format!("Lieu fictif n°{j} – {word}");
            let geometry = if kind == "route" {
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
            offers.push(offer::ActiveModel {
                id: Set(id.clone()),
                slug: Set(format!("lieu-fictif-{seed}-{j}")),
                kind: Set(kind.to_owned()),
                classes: Set(json!(["PlaceOfInterest"])),
                is_totem: Set(false),
                name: Set(json!({ "fr": name, "en": format!("Fictional place no. {j} – {word}"), "nl": format!("Fictieve plek nr. {j}"), "de": format!("Fiktiver Ort Nr. {j}") })),
                short_description: Set(Some(json!({ "fr": format!("Enregistrement fictif pour les tests de charge : {word} près de nulle part."), "en": "Fictional record for load tests." }))),
                description: Set(None),
                lon: Set(lon),
                lat: Set(lat),
                geo_precision: Set("exact".into()),
                geometry: Set(gjson),
                min_lon: Set(bbox[0]),
                min_lat: Set(bbox[1]),
                max_lon: Set(bbox[2]),
                max_lat: Set(bbox[3]),
                commune_insee: Set(None),
                in_territory: Set(false),
                address: Set(None),
                contacts: Set(None),
                opening_hours: Set(rng.next().is_multiple_of(3).then(|| "Mo-Fr 09:00-18:00; Sa 10:00-12:00".to_owned())),
                opening_hours_text: Set(None),
                prices: Set(None),
                accessibility: Set(None),
                labels: Set(json!([])),
                capacity: Set((kind == "accommodation").then(|| json!({ "beds": 2 + rng.next() % 20 }))),
                source: Set(SOURCE.into()),
                source_id: Set(format!("{seed}:{j}")),
                source_licence: Set("CC0 1.0 (fictional test data)".into()),
                source_attribution: Set("Synthetic, fictional data generated for scale tests".into()),
                source_url: Set(None),
                source_updated_at: Set(None),
                owner: Set(None),
                status: Set("published".into()),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                catalog_version: Set(version),
            });
            themes.push(offer_theme::ActiveModel {
                offer_id: Set(id.clone()),
                theme_code: Set((*rng.pick(&THEMES)).to_owned()),
            });
            if kind == "event" {
                for k in 0..3 {
                    let start = base + Duration::days((rng.next() % 365) as i64) + Duration::hours(k);
                    occurrences.push(event_occurrence::ActiveModel {
                        offer_id: Set(id.clone()),
                        starts_at: Set(start),
                        ends_at: Set(start + Duration::hours(3)),
                        ..Default::default()
                    });
                }
            }
            if kind == "route" {
                routes.push(route::ActiveModel {
                    offer_id: Set(id.clone()),
                    length_meters: Set(2000.0),
                    practices: Set(json!(["walking"])),
                    difficulty: Set(None),
                    line_precision: Set("schematic".into()),
                });
            }
        }
        written += offers.len();
        offer::Entity::insert_many(offers).exec(&txn).await?;
        offer_theme::Entity::insert_many(themes).exec(&txn).await?;
        for chunk in occurrences.chunks(300) {
            event_occurrence::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
        }
        if !routes.is_empty() {
            route::Entity::insert_many(routes).exec(&txn).await?;
        }
        txn.commit().await?;
        i += batch;
    }
    Ok(written)
}
