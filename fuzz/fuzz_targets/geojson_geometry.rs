//! GeoJSON geometries as the mutations and the importer read them: parse, check as a footprint,
//! write back, measure.
#![no_main]
use entities::domain::geometry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        // What `createOffer`, `updateOffer` and the write path check.
        let _ = geometry::footprint(&value);
        if let Ok(g) = geometry::parse(&value) {
            let _ = geometry::to_geojson(&g);
            let _ = geometry::bbox(&g);
        }
    }
});
