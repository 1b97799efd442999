//! DATAtourisme objects as the importer maps them (JSON-LD of a flux export).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let territory = std::collections::HashSet::from(["59632".to_owned()]);
        let _ = seed::datatourisme::map(&value, &territory, seed::datatourisme::ImportOptions::default());
    }
});
