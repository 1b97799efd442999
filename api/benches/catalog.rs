//! Criterion benchmarks of the serving path on the real territory: cold encoding of a composite
//! tile at z10, z12 and z14 (no cache), and the catalog's `near` and `text` selections, plus the
//! catalog build. Run with `cargo bench -p api --bench catalog`; with `BENCH_SYNTH_OFFERS=N` the
//! selections are measured again over N synthetic offers, and so is a compaction of the index
//! (its base rebuilt from the records, as before, or merged from the base and the overlay).
//! Figures go to BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use api::catalog::Catalog;
use api::catalog::index::{COMPACT_AT, Entry, Index};
use api::catalog::query::{Near, OfferQuery};
use api::lang::Lang;
use api::tiles::Layer;
use api::tiles::encode::{TileCoord, encode};
use criterion::{Criterion, criterion_group, criterion_main};

/// The territory's catalog, plus `synthetic` fictional offers (`api seed synth`).
fn load_catalog(synthetic: usize) -> Catalog {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let db = sea_orm::Database::connect("sqlite::memory:").await.expect("sqlite");
        api::db::migrate(&db).await.expect("migrate");
        api::db::seed(&db).await.expect("seed");
        if synthetic > 0 {
            seed::synth::generate(&db, synthetic, 1).await.expect("synthetic offers");
        }
        Catalog::load(&db).await.expect("catalog")
    })
}

/// The `near` and `text` selections of the load benchmarks, a page of 20.
fn selections(c: &mut Criterion, catalog: &Catalog, suffix: &str) {
    let near =
        OfferQuery { near: Some(Near { lat: 50.3836, lon: 3.4265, radius_meters: 20_000.0 }), ..Default::default() };
    c.bench_function(&format!("select near 20 km{suffix}"), |b| b.iter(|| black_box(catalog.select(&near, None, 20))));
    c.bench_function(&format!("count near 20 km{suffix}"), |b| b.iter(|| black_box(catalog.count(&near))));
    // Every match in order, as a page used to cost before only the page was sorted.
    c.bench_function(&format!("select near 20 km, every match ordered{suffix}"), |b| {
        b.iter(|| black_box(catalog.select(&near, None, usize::MAX)))
    });
    let text = OfferQuery { text: Some("cité minière".into()), ..Default::default() };
    c.bench_function(&format!("select text{suffix}"), |b| b.iter(|| black_box(catalog.select(&text, None, 20))));
}

/// A compaction of the index once `COMPACT_AT` + 1 offers changed (each given its own entry again):
/// a base rebuilt from every record, tokenizing its texts, against one merged from the base's
/// arrays and posting lists and the overlay's entries (what the catalog does now).
fn compaction(c: &mut Criterion, catalog: &Catalog, suffix: &str) {
    let version = catalog.version;
    let mut index = catalog.index().clone();
    for o in catalog.by_name().step_by(2).take(COMPACT_AT + 1) {
        index.set(o.id, Some(Entry::of(o)), version + 1);
    }
    assert!(index.needs_compaction());
    // Each run takes up to seconds: ten samples.
    let mut group = c.benchmark_group("compaction");
    group.sample_size(10);
    group.bench_function(format!("index rebuilt from the records{suffix}"), |b| {
        b.iter(|| {
            black_box(Index::build_from(version + 1, catalog.by_name().map(|o| (o.id, &**o)).collect(), Entry::of))
        })
    });
    group.bench_function(format!("index compacted from base and overlay{suffix}"), |b| {
        b.iter(|| black_box(index.compacted(version + 1)))
    });
    group.finish();
}

/// The tile holding the Fosse d'Arenberg at a zoom.
fn tile(z: u32) -> TileCoord {
    let (x, y) = entities::domain::mercator::project(3.4265, 50.3836);
    let n = f64::from(1u32 << z);
    TileCoord::new(z, (x * n) as u32, (y * n) as u32).expect("tile")
}

fn benches(c: &mut Criterion) {
    let catalog = load_catalog(0);
    let layers = [Layer::Offers, Layer::Footprints, Layer::Routes, Layer::Communes];
    for z in [10, 12, 14] {
        let t = tile(z);
        c.bench_function(&format!("cold composite tile z{z}"), |b| {
            b.iter(|| black_box(encode(&catalog, &layers, t, Lang::Fr, "https://example.org", false)))
        });
        for layer in layers {
            c.bench_function(&format!("cold tile z{z}, layer {}", layer.name()), |b| {
                b.iter(|| black_box(encode(&catalog, &[layer], t, Lang::Fr, "https://example.org", false)))
            });
        }
    }
    selections(c, &catalog, "");
    // With BENCH_SYNTH_OFFERS=N, the selections again with N synthetic offers in the catalog.
    if let Some(n) = std::env::var("BENCH_SYNTH_OFFERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        let catalog = load_catalog(n);
        selections(c, &catalog, &format!(", {n} synthetic offers"));
        compaction(c, &catalog, &format!(", {n} synthetic offers"));
    }
}

criterion_group!(name = serving; config = Criterion::default().sample_size(50); targets = benches);
criterion_main!(serving);
