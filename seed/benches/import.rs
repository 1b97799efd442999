//! Criterion benchmarks of the DATAtourisme import's work per object on the six real fixture
//! objects: parsing (only the members the mapping reads, and the whole object for comparison) and
//! mapping. Run with `cargo bench -p seed --bench import`; figures go to BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seed::datatourisme::{ImportOptions, Raw, map};

fn objects() -> Vec<Vec<u8>> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/datatourisme");
    let mut paths: Vec<_> = std::fs::read_dir(fixtures)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| std::fs::read(p).expect("read")).collect()
}

fn import(c: &mut Criterion) {
    let objects = objects();
    let bytes: usize = objects.iter().map(Vec::len).sum();
    let raws: Vec<Raw> = objects.iter().cloned().map(Raw::new).collect();
    let territory: HashSet<String> = HashSet::new();
    let mut group = c.benchmark_group("datatourisme, the six fixture objects");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse the whole objects", |b| {
        b.iter(|| {
            for o in &objects {
                black_box(serde_json::from_slice::<serde_json::Value>(o).expect("json"));
            }
        })
    });
    group.bench_function("parse the members read", |b| {
        b.iter(|| {
            for r in &raws {
                black_box(r.parse().expect("json"));
            }
        })
    });
    let parsed: Vec<serde_json::Value> = raws.iter().map(|r| r.parse().expect("json").expect("object")).collect();
    group.bench_function("map", |b| {
        b.iter(|| {
            for v in &parsed {
                black_box(map(v, &territory, ImportOptions::default()).expect("mapped"));
            }
        })
    });
    group.bench_function("parse the members read and map", |b| {
        b.iter(|| {
            for r in &raws {
                let v = r.parse().expect("json").expect("object");
                black_box(map(&v, &territory, ImportOptions::default()).expect("mapped"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
