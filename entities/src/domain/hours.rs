//! Parsing OpenStreetMap `opening_hours` expressions, shared by the API and the importer.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use opening_hours::OpeningHours;

/// The most `[n]` weekday selectors an expression may hold. The upstream parser backtracks
/// exponentially over comma-separated "month weekday[n]" items (`Jul Mo[1],Jul Mo[1],…`, valid
/// or not): each item triples the time, and fuzzing found a 205-byte input that took 1,114 s.
/// Past this number an expression is refused before it is parsed; 8 keeps the worst case near
/// 20 ms in a release build. Real expressions hold one or two.
pub const MAX_NTH_SELECTORS: usize = 8;

/// Longest expression accepted. Parsing is linear in the number of rules (200 dated rules, 8,000
/// characters, parse in about 4 ms); DATAtourisme's periods make expressions of thousands.
pub const MAX_LENGTH: usize = 8_000;

/// Parses an expression. The parser's own consistency checks are `debug_assert!`s that some
/// inputs reach (fuzzing found `20:00-8:00/24:00`): in a debug build such an input would panic
/// instead of failing, so the panic is caught and reported as a parse error.
pub fn parse(text: &str) -> Result<OpeningHours, String> {
    if text.len() > MAX_LENGTH {
        return Err(format!("at most {MAX_LENGTH} characters"));
    }
    if text.matches('[').count() > MAX_NTH_SELECTORS {
        return Err(format!("more than {MAX_NTH_SELECTORS} [n] weekday selectors is more than this API evaluates"));
    }
    match std::panic::catch_unwind(|| text.parse::<OpeningHours>()) {
        Ok(Ok(hours)) => Ok(hours),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the expression could not be read".to_owned()),
    }
}

/// Most expressions [`check`] remembers as valid.
pub const REMEMBERED: usize = 4_096;
/// Most bytes of expressions [`check`] remembers as valid.
pub const REMEMBERED_BYTES: usize = 8 * 1024 * 1024;

/// Checks that [`parse`] accepts an expression. The most recent expressions found valid are
/// remembered (at most [`REMEMBERED`] of them and [`REMEMBERED_BYTES`]), so a text checked again is
/// not parsed again: the importer checks an expression, then the write path it hands the offer to
/// checks it too, and an expression of 8,000 characters takes milliseconds to parse.
pub fn check(text: &str) -> Result<(), String> {
    if VALID.lock().unwrap_or_else(PoisonError::into_inner).holds(text) {
        return Ok(());
    }
    parse(text)?;
    VALID.lock().unwrap_or_else(PoisonError::into_inner).remember(text);
    Ok(())
}

static VALID: LazyLock<Mutex<Valid>> = LazyLock::new(|| Mutex::new(Valid::new(REMEMBERED, REMEMBERED_BYTES)));

/// Expressions found valid, the oldest forgotten first.
struct Valid {
    texts: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    bytes: usize,
    most: usize,
    most_bytes: usize,
}

impl Valid {
    fn new(most: usize, most_bytes: usize) -> Valid {
        Valid { texts: HashSet::new(), order: VecDeque::new(), bytes: 0, most, most_bytes }
    }

    fn holds(&self, text: &str) -> bool {
        self.texts.contains(text)
    }

    fn remember(&mut self, text: &str) {
        if text.len() > self.most_bytes {
            return;
        }
        let text: Arc<str> = Arc::from(text);
        if !self.texts.insert(text.clone()) {
            return;
        }
        self.bytes += text.len();
        self.order.push_back(text);
        while self.order.len() > self.most || self.bytes > self.most_bytes {
            let Some(oldest) = self.order.pop_front() else { break };
            self.bytes -= oldest.len();
            self.texts.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_expression_is_accepted_and_refused_as_parsed_again_and_again() {
        for _ in 0..3 {
            assert!(check("Mo-Fr 10:00-18:00; PH off").is_ok());
            assert!(check("20:00-8:00/24:00").is_err());
            assert!(check("Mo-Fr 25:00-26:00 nonsense").is_err());
        }
        assert!(VALID.lock().unwrap_or_else(PoisonError::into_inner).holds("Mo-Fr 10:00-18:00; PH off"));
        assert!(!VALID.lock().unwrap_or_else(PoisonError::into_inner).holds("20:00-8:00/24:00"));
    }

    #[test]
    fn the_expressions_remembered_are_bounded_in_number_and_bytes() {
        let mut valid = Valid::new(3, 10);
        for t in ["a", "b", "c", "d"] {
            valid.remember(t);
        }
        assert!(!valid.holds("a"), "the oldest is forgotten past three");
        assert!(["b", "c", "d"].iter().all(|t| valid.holds(t)));
        valid.remember("eeeeeeeee");
        assert_eq!(valid.bytes, 10, "past ten bytes the oldest go");
        assert!(valid.holds("eeeeeeeee") && valid.holds("d") && !valid.holds("b") && !valid.holds("c"));
        valid.remember("too long to be kept");
        assert!(!valid.holds("too long to be kept") && valid.holds("eeeeeeeee"));
        assert_eq!(valid.order.len(), valid.texts.len());
    }

    #[test]
    fn the_expression_found_by_the_fuzzer_is_an_error_not_a_panic() {
        assert!(parse("20:00-8:00/24:00").is_err());
        assert!(parse("Mo-Fr 10:00-18:00").is_ok());
    }

    #[test]
    fn expressions_the_parser_would_take_hours_over_are_refused_first() {
        // Found by fuzzing: without the guard, parsing this takes hours (each item triples it).
        let slow = format!("{}x", "Jul Mo[1],".repeat(20));
        assert!(parse(&slow).is_err_and(|e| e.contains("[n] weekday selectors")));
        // Up to the limit, such lists still parse.
        let eight = ["Jul Mo[1]"; MAX_NTH_SELECTORS].join(",");
        assert!(parse(&eight).is_ok(), "{eight}");
        assert!(parse("Jan Su[-1] 10:00-12:00; Mo[1,3] 14:00-18:00").is_ok());
    }
}
