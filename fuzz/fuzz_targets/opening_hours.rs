//! OpenStreetMap opening_hours expressions as editors send them, then evaluated at an instant.
//!
//! libfuzzer-sys installs a panic hook that aborts, so even a panic the API catches would end the
//! run. The server catches the upstream parser's `debug_assert!` panics
//! (`entities::domain::hours::parse`), so this target installs a silent hook: a panic caught there
//! is what production does, while a panic that escapes still reaches libFuzzer's wrapper and is
//! reported as a crash.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::Once;

static DEFAULT_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Ok(text) = std::str::from_utf8(data) else { return };
    // As `createOffer` and `updateOffer` take `openingHours`: the text checked, then parsed.
    if let Ok(expr) = entities::domain::check::text("h", text, entities::domain::hours::MAX_LENGTH) {
        if let Ok(oh) = entities::domain::hours::parse(&expr) {
            let at = chrono::NaiveDate::from_ymd_opt(2026, 7, 14).and_then(|d| d.and_hms_opt(15, 30, 0));
            if let Some(at) = at {
                let _ = oh.is_open(at);
            }
        }
    }
});
