//! Stable offer ids: a record of a source keeps the same UUID on every database, forever.

use uuid::Uuid;

/// The source name of the records this project curates itself (and of offers created in the API).
pub const CURATED_SOURCE: &str = "porte-du-hainaut-api";

/// Namespace of the offer UUIDs derived from `(source, source_id)`.
pub const OFFER_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2b4a_8c3e_4f57_9a0b_5e7d_c4b3_a291);

/// The stable id of a record of a source.
///
/// ```
/// let a = entities::domain::ids::offer_id("datatourisme", "https://data.datatourisme.fr/1/x");
/// assert_eq!(a, entities::domain::ids::offer_id("datatourisme", "https://data.datatourisme.fr/1/x"));
/// ```
pub fn offer_id(source: &str, source_id: &str) -> String {
    Uuid::new_v5(&OFFER_NAMESPACE, format!("{source}\u{1f}{source_id}").as_bytes()).to_string()
}

/// A stable id for something that hangs off an offer (a media item by its URL).
pub fn child_id(offer: &str, key: &str) -> String {
    Uuid::new_v5(&OFFER_NAMESPACE, format!("{offer}|{key}").as_bytes()).to_string()
}
