//! Helpers of the unit tests.

/// Numbers in [0, 1) from a deterministic xorshift generator started at `seed` (not zero): the
/// same seed gives the same numbers, for randomised tests that fail the same way every time.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> f64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    }
}
