//! Text search over the catalog: accent-, case- and punctuation-insensitive, best matches first.
//!
//! Hand-written because the needs are small (a few hundred thousand short texts, in memory) and
//! an engine such as tantivy would double the build for what an inverted index does here.

use std::collections::{BTreeMap, HashMap};

/// Folds text to lowercase ASCII words: `"TOUR-ABBATIALE"` and `"tour abbatiale"` give the same.
pub fn tokens(text: &str) -> Vec<String> {
    deunicode::deunicode(text)
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How much a word counts by where it appears.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The name.
    Name,
    /// A description or anything else.
    Body,
}

impl Field {
    fn weight(self) -> f32 {
        match self {
            Field::Name => 4.0,
            Field::Body => 1.0,
        }
    }
}

/// An inverted index from word to `(document, weight)`.
#[derive(Debug, Default)]
pub struct TextIndex {
    postings: BTreeMap<String, HashMap<usize, f32>>,
    name_lengths: HashMap<usize, usize>,
}

impl TextIndex {
    /// Adds a text of a document.
    pub fn add(&mut self, doc: usize, field: Field, text: &str) {
        let words = tokens(text);
        if let Field::Name = field {
            let len = self.name_lengths.entry(doc).or_insert(usize::MAX);
            *len = (*len).min(words.len());
        }
        for w in words {
            let slot = self.postings.entry(w).or_default().entry(doc).or_insert(0.0);
            *slot = slot.max(field.weight());
        }
    }

    /// Documents holding every word of the query (the last one as a prefix), with a score.
    pub fn search(&self, query: &str) -> Vec<(usize, f32)> {
        let words = tokens(query);
        let Some((last, rest)) = words.split_last() else { return Vec::new() };
        let mut scores: Option<HashMap<usize, f32>> = None;
        for (i, word) in rest.iter().chain(std::iter::once(last)).enumerate() {
            let mut hits: HashMap<usize, f32> = HashMap::new();
            let is_last = i == words.len() - 1;
            if is_last {
                for (w, docs) in self.postings.range(word.clone()..).take_while(|(w, _)| w.starts_with(word.as_str())) {
                    // An exact word counts more than a word it merely begins.
                    let factor = if w == word { 1.0 } else { 0.6 };
                    for (doc, weight) in docs {
                        let s = hits.entry(*doc).or_insert(0.0);
                        *s = s.max(weight * factor);
                    }
                }
            } else if let Some(docs) = self.postings.get(word) {
                hits.extend(docs.iter().map(|(d, w)| (*d, *w)));
            }
            scores = Some(match scores {
                None => hits,
                Some(prev) => prev.into_iter().filter_map(|(d, s)| hits.get(&d).map(|h| (d, s + h))).collect(),
            });
        }
        let mut out: Vec<(usize, f32)> = scores
            .unwrap_or_default()
            .into_iter()
            .map(|(d, s)| {
                // Among equal matches, a shorter name is a closer match.
                let len = self.name_lengths.get(&d).copied().unwrap_or(usize::MAX).min(64) as f32;
                (d, s + 1.0 / (1.0 + len))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> TextIndex {
        let mut i = TextIndex::default();
        i.add(0, Field::Name, "musée de la Tour abbatiale");
        i.add(1, Field::Name, "Église Sainte-Barbe");
        i.add(1, Field::Body, "Près de la tour du chevalement");
        i.add(2, Field::Name, "Abbaye");
        i
    }

    #[test]
    fn accents_case_and_punctuation_do_not_matter() {
        let i = index();
        assert_eq!(i.search("TOUR-ABBATIALE")[0].0, 0);
        assert_eq!(i.search("eglise sainte barbe")[0].0, 1);
        assert_eq!(i.search("Musee")[0].0, 0);
    }

    #[test]
    fn names_rank_before_descriptions_and_last_word_is_a_prefix() {
        let i = index();
        let hits: Vec<usize> = i.search("tour").into_iter().map(|h| h.0).collect();
        assert_eq!(hits, vec![0, 1]);
        let hits: Vec<usize> = i.search("abba").into_iter().map(|h| h.0).collect();
        assert!(hits.contains(&0) && hits.contains(&2));
        assert!(i.search("nothing here").is_empty());
    }
}
