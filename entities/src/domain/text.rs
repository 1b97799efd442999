//! Folding text for search and ordering: lowercase ASCII words, so `"TOUR-ABBATIALE"` and
//! `"tour abbatiale"` are the same.

/// Folds text to lowercase ASCII words.
///
/// ```
/// assert_eq!(entities::domain::text::tokens("Église Sainte-Barbe"), ["eglise", "sainte", "barbe"]);
/// ```
pub fn tokens(text: &str) -> Vec<String> {
    // Transliterated to ASCII (borrowed when it already is), so each word lowercases on its own.
    deunicode::deunicode_with_tofu_cow(text, "[?]")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The key names sort by: the folded words joined by spaces.
pub fn sort_key(text: &str) -> String {
    tokens(text).join(" ")
}

/// The text without control characters, for formats that cannot carry them (XML, iCalendar):
/// line breaks (`\r\n`, `\r`) become `\n` when `lines` is true and spaces otherwise, tabs become
/// spaces, anything else is dropped, and so are the code points XML forbids (U+FFFE, U+FFFF).
///
/// ```
/// use entities::domain::text::printable;
/// assert_eq!(printable("Fête\u{7}\r\nde\tla bière\u{FFFF}", true), "Fête\nde la bière");
/// assert_eq!(printable("a\r\nb", false), "a b");
/// ```
pub fn printable(text: &str, lines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(if lines { '\n' } else { ' ' });
            }
            '\t' => out.push(' '),
            c if bad(c) => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::tokens;

    /// Words are lowercased one by one after transliteration: the same words as lowercasing the
    /// whole transliterated text first, whatever the script.
    #[test]
    fn words_are_the_lowercased_transliteration() {
        let reference = |text: &str| -> Vec<String> {
            deunicode::deunicode(text)
                .to_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for text in [
            "Église Sainte-Barbe",
            "ŒUVRE, cœur, Straße, ÆGIR",
            "\u{212A}elvin \u{212B}ngström İstanbul ǅemal",
            "Ｆｕｌｌｗｉｄｔｈ ① ½ ﬁne",
            "東京 Москва Αθήνα 🚲 vélo",
            "tab\tnew\nline\u{0}nul [?] a-b_c",
            "",
        ] {
            assert_eq!(tokens(text), reference(text), "{text:?}");
        }
    }
}
