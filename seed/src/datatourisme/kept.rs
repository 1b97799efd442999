//! An object parsed into only the members the mapping reads.
//!
//! Most of a DATAtourisme object is what an offer does not hold: the full records of its creator
//! and publisher, every language of every text, identifiers of each node. Those members are
//! checked as JSON and skipped while the object is parsed, never built into values; the members
//! [`super::map`] reads are built as they are. The tree below and `map` must name the same
//! members: the tests map every fixture object both ways and compare.
//!
//! Kept members nest no deeper than `serde_json`'s recursion limit; skipped ones are skipped with
//! a loop, not a recursion, whatever their depth.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What of a JSON value is kept.
pub(super) enum Keep {
    /// The whole value.
    All,
    /// Of an object, these members, each kept as said; of a list, each item so; a scalar whole.
    Members(&'static [(&'static str, Keep)]),
}

const ALL: Keep = Keep::All;

/// A text in several languages: ours, from a language map or language-tagged values.
const TEXTS: Keep =
    Keep::Members(&[("fr", ALL), ("en", ALL), ("nl", ALL), ("de", ALL), ("@value", ALL), ("@language", ALL)]);

/// A node named by its id alone, as a day of the week (its labels in seven languages are not read).
const NAMED: Keep = Keep::Members(&[("@id", ALL)]);

/// A label of a node, as `rdfs:label`.
const LABELLED: Keep = Keep::Members(&[("rdfs:label", TEXTS)]);

/// `hasMainRepresentation` and `hasRepresentation`: media.
const REPRESENTATION: Keep = Keep::Members(&[
    (
        "ebucore:hasAnnotation",
        Keep::Members(&[("ebucore:title", TEXTS), ("ebucore:isCoveredBy", ALL), ("credits", ALL)]),
    ),
    ("ebucore:hasRelatedResource", Keep::Members(&[("ebucore:locator", ALL), ("ebucore:hasMimeType", LABELLED)])),
]);

/// What [`super::map`] reads of an object.
pub(super) static OBJECT: Keep = Keep::Members(&[
    ("@id", ALL),
    ("@type", ALL),
    ("rdfs:label", TEXTS),
    ("rdfs:comment", TEXTS),
    (
        "isLocatedAt",
        Keep::Members(&[
            ("schema:geo", ALL),
            ("schema:address", ALL),
            (
                "schema:openingHoursSpecification",
                Keep::Members(&[
                    ("additionalInformation", TEXTS),
                    ("schema:dayOfWeek", NAMED),
                    ("schema:validFrom", ALL),
                    ("schema:validThrough", ALL),
                    ("schema:opens", ALL),
                    ("schema:closes", ALL),
                ]),
            ),
        ]),
    ),
    ("hasDescription", Keep::Members(&[("shortDescription", TEXTS), ("dc:description", TEXTS)])),
    ("hasContact", Keep::Members(&[("schema:telephone", ALL), ("schema:email", ALL), ("foaf:homepage", ALL)])),
    ("lastUpdateDatatourisme", ALL),
    ("lastUpdate", ALL),
    ("hasBeenPublishedBy", Keep::Members(&[("schema:legalName", ALL)])),
    ("allowedPersons", ALL),
    ("reducedMobilityAccess", ALL),
    (
        "offers",
        Keep::Members(&[(
            "schema:priceSpecification",
            Keep::Members(&[
                ("hasEligiblePolicy", LABELLED),
                ("schema:minPrice", ALL),
                ("schema:maxPrice", ALL),
                ("schema:priceCurrency", ALL),
            ]),
        )]),
    ),
    ("hasMainRepresentation", REPRESENTATION),
    ("hasRepresentation", REPRESENTATION),
    ("hasReview", Keep::Members(&[("hasReviewValue", LABELLED)])),
    ("takesPlaceAt", Keep::Members(&[("startDate", ALL), ("endDate", ALL), ("startTime", ALL), ("endTime", ALL)])),
]);

/// Parses `bytes` keeping what `keep` says.
pub(super) fn parse(bytes: &[u8], keep: &'static Keep) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = keep.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

impl<'de> DeserializeSeed<'de> for &'static Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self {
            Keep::All => Value::deserialize(d),
            Keep::Members(members) => d.deserialize_any(Kept { keep: self, members }),
        }
    }
}

/// Builds a value of which only `members` are kept (`keep` is [`Keep::Members`] of them).
struct Kept {
    keep: &'static Keep,
    members: &'static [(&'static str, Keep)],
}

impl<'de> Visitor<'de> for Kept {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self.keep)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(found) = map.next_key_seed(MemberOf(self.members))? {
            match found {
                Some((name, keep)) => {
                    let v = map.next_value_seed(keep)?;
                    out.insert((*name).to_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A member's name looked up among those kept, without building it.
struct MemberOf(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for MemberOf {
    type Value = Option<&'static (&'static str, Keep)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberOf {
    type Value = Option<&'static (&'static str, Keep)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(name, _)| *name == v))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_not_read_are_left_out_at_every_depth_and_lists_keep_their_items() {
        static KEEP: Keep = Keep::Members(&[("a", ALL), ("b", Keep::Members(&[("c", ALL)]))]);
        let text = json!({
            "a": {"x": [1, 2.5, null, true]},
            "skipped": {"deep": [[[{"y": "z"}]]]},
            "b": [{"c": "kept", "d": "dropped"}, "scalar", {"d": 1}],
        })
        .to_string();
        let v = parse(text.as_bytes(), &KEEP).expect("parsed");
        assert_eq!(v, json!({"a": {"x": [1, 2.5, null, true]}, "b": [{"c": "kept"}, "scalar", {}]}));
    }

    #[test]
    fn invalid_json_in_a_skipped_member_is_refused() {
        static KEEP: Keep = Keep::Members(&[("a", ALL)]);
        for text in [r#"{"a": 1, "b": [1, }"#, r#"{"a": 1, "b": "\x"}"#, r#"{"a": 1} trailing"#] {
            assert!(parse(text.as_bytes(), &KEEP).is_err(), "{text}");
        }
    }

    #[test]
    fn nesting_is_bounded_in_kept_members_and_skipped_ones_are_not_recursed_into() {
        static KEEP: Keep = Keep::Members(&[("a", ALL)]);
        let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
        let e = parse(format!(r#"{{"a": {open}{close}}}"#).as_bytes(), &KEEP).expect_err("too deep");
        assert!(e.to_string().contains("recursion limit"), "{e}");
        // serde_json skips a value with a loop, not a recursion: any depth is safe to skip.
        let v = parse(format!(r#"{{"b": {open}{close}, "a": 1}}"#).as_bytes(), &KEEP).expect("skipped");
        assert_eq!(v, json!({"a": 1}));
        assert!(parse(format!(r#"{{"b": {open}"#).as_bytes(), &KEEP).is_err());
    }
}
