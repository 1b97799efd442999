//! GeoJSON geometries as the mutations and the importer read them: parse, write back, measure.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = api::offers::input::geometry("g", &value);
        if let Ok(g) = seed::geometry::parse(&value) {
            let _ = seed::geometry::to_geojson(&g);
            let _ = seed::geometry::bbox(&g);
        }
    }
});
