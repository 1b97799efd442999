//! OpenStreetMap opening_hours expressions as editors send them, then evaluated at an instant.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(expr) = api::offers::input::opening_hours("h", text) {
        if let Ok(oh) = seed::hours::parse(&expr) {
            let at = chrono::NaiveDate::from_ymd_opt(2026, 7, 14).and_then(|d| d.and_hms_opt(15, 30, 0));
            if let Some(at) = at {
                let _ = oh.is_open(at);
            }
        }
    }
});
