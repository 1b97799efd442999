//! Folding text for search and ordering: lowercase ASCII words, so `"TOUR-ABBATIALE"` and
//! `"tour abbatiale"` are the same.

/// Folds text to lowercase ASCII words.
///
/// ```
/// assert_eq!(entities::domain::text::tokens("Église Sainte-Barbe"), ["eglise", "sainte", "barbe"]);
/// ```
pub fn tokens(text: &str) -> Vec<String> {
    deunicode::deunicode(text)
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The key names sort by: the folded words joined by spaces.
pub fn sort_key(text: &str) -> String {
    tokens(text).join(" ")
}
