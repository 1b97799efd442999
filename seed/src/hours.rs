//! Parsing OpenStreetMap `opening_hours` expressions, shared by the API and the importer.

use opening_hours::OpeningHours;

/// Parses an expression. The parser's own consistency checks are `debug_assert!`s that some
/// inputs reach (fuzzing found `20:00-8:00/24:00`): in a debug build such an input would panic
/// instead of failing, so the panic is caught and reported as a parse error.
pub fn parse(text: &str) -> Result<OpeningHours, String> {
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
}
