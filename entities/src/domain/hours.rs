//! Parsing OpenStreetMap `opening_hours` expressions, shared by the API and the importer.

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

#[cfg(test)]
mod tests {
    use super::*;

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
