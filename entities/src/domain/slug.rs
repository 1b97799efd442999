//! URL slugs: lowercase ASCII words joined by hyphens.

/// Turns a name into a slug: `"Église Sainte-Barbe"` → `"eglise-sainte-barbe"`.
///
/// ```
/// assert_eq!(entities::domain::slug::slugify("Musée d'archéologie"), "musee-d-archeologie");
/// ```
pub fn slugify(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_lowercase();
    let mut slug = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// Whether a string is already a well-formed slug (1 to 120 characters).
pub fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 120
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_apostrophes_and_brackets_fold() {
        assert_eq!(slugify("Cité Couture (Maroc)"), "cite-couture-maroc");
        assert_eq!(slugify("Terril T171 Mare à Goriaux"), "terril-t171-mare-a-goriaux");
        assert!(is_slug(&slugify("  École ménagère ")));
        assert!(!is_slug("Not a slug"));
    }
}
