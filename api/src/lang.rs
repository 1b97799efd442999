//! The languages of the offer's texts and how a request chooses one.

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

/// A language of the texts. French is the language of record; others fall back to it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// French.
    #[default]
    Fr,
    /// English.
    En,
    /// Dutch.
    Nl,
    /// German.
    De,
}

impl Lang {
    /// Every language, French first.
    pub const ALL: [Lang; 4] = [Lang::Fr, Lang::En, Lang::Nl, Lang::De];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::De => "de",
        }
    }

    /// Reads an ISO 639-1 code (`fr`, `en-GB` …), case-insensitive.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// Chooses from an `Accept-Language` header, honouring q-values; `None` when nothing fits.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut pieces = part.split(';');
            let Some(tag) = pieces.next() else { continue };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_code(tag)
                && q > 0.0
                && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi))
            {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(Lang::from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(Lang::from_accept_language("es, en;q=0.5, nl;q=0.7"), Some(Lang::Nl));
        assert_eq!(Lang::from_accept_language("es, it"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }
}
