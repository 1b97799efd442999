//! Inputs of the offer mutations, and their validation at the edge: every error names the field
//! it is about (`extensions.field`), and nothing is written unless everything is valid.

use async_graphql::{InputObject, Json};
use chrono::{DateTime, Utc};
use geo::{Contains, Point, Validation};
use serde_json::{Map, Value, json};

use super::types::OfferKind;
use crate::catalog::Catalog;
use crate::error::{Error, Result};

/// Texts in the four languages; French is the language of record.
#[derive(Debug, Clone, Default, InputObject)]
pub struct TextsInput {
    /// French.
    pub fr: Option<String>,
    /// English.
    pub en: Option<String>,
    /// Dutch.
    pub nl: Option<String>,
    /// German.
    pub de: Option<String>,
}

/// A WGS84 point.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct LocationInput {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A postal address.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AddressInput {
    /// Street and number.
    pub street: Option<String>,
    /// Postcode (five digits in France).
    pub postal_code: Option<String>,
    /// Locality.
    pub locality: Option<String>,
}

/// Contacts.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ContactInput {
    /// Phone numbers.
    pub phones: Option<Vec<String>>,
    /// E-mail addresses.
    pub emails: Option<Vec<String>>,
    /// Websites (http or https URLs).
    pub websites: Option<Vec<String>>,
}

/// Accessibility facts.
#[derive(Debug, Clone, Default, InputObject)]
pub struct AccessibilityInput {
    /// yes, limited or no.
    pub wheelchair: Option<String>,
    /// Tourisme & Handicap labels: motor, visual, hearing, mental.
    pub tourisme_handicap: Option<Vec<String>>,
}

/// Capacity of an accommodation.
#[derive(Debug, Clone, Default, InputObject)]
pub struct CapacityInput {
    /// Beds.
    pub beds: Option<i32>,
    /// Rooms.
    pub rooms: Option<i32>,
    /// Units.
    pub units: Option<i32>,
    /// People.
    pub people: Option<i32>,
}

/// The fields of an offer. On creation `kind`, `name.fr` and `location` are required; on update
/// only the fields given change (a list given replaces the list).
#[derive(Debug, Clone, Default, InputObject)]
pub struct OfferInput {
    /// URL slug (lowercase words and hyphens); derived from the name when absent on creation.
    pub slug: Option<String>,
    /// Kind.
    pub kind: Option<OfferKind>,
    /// DATAtourisme classes.
    pub classes: Option<Vec<String>>,
    /// Theme codes.
    pub themes: Option<Vec<String>>,
    /// Name.
    pub name: Option<TextsInput>,
    /// Short description.
    pub short_description: Option<TextsInput>,
    /// Long description.
    pub description: Option<TextsInput>,
    /// Representative point.
    pub location: Option<LocationInput>,
    /// How precise the point is: exact, approximate or commune (default exact).
    pub geo_precision: Option<String>,
    /// Footprint or line, a GeoJSON geometry (RFC 7946, WGS84).
    pub geometry: Option<Json<Value>>,
    /// INSEE code of the commune; derived from the point when absent.
    pub commune: Option<String>,
    /// A partner place outside the territory (no commune of the territory).
    pub outside_territory: Option<bool>,
    /// Postal address.
    pub address: Option<AddressInput>,
    /// Contacts.
    pub contact: Option<ContactInput>,
    /// Opening hours in OpenStreetMap `opening_hours` syntax.
    pub opening_hours: Option<String>,
    /// Opening hours as free text, when the syntax cannot say them.
    pub opening_hours_text: Option<String>,
    /// Prices, as a JSON array of `{label, amount, currency}`.
    pub prices: Option<Json<Value>>,
    /// Accessibility.
    pub accessibility: Option<AccessibilityInput>,
    /// Labels.
    pub labels: Option<Vec<String>>,
    /// Capacity.
    pub capacity: Option<CapacityInput>,
    /// Organisation that owns the offer (editors only).
    pub owner: Option<String>,
}

/// An occurrence of an event.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct OccurrenceInput {
    /// Start.
    pub start: DateTime<Utc>,
    /// End, at or after the start.
    pub end: DateTime<Utc>,
}

/// A media item.
#[derive(Debug, Clone, InputObject)]
pub struct MediaInput {
    /// image, video, audio or document.
    pub kind: String,
    /// Address of the file (http or https).
    pub url: String,
    /// Title.
    pub title: Option<TextsInput>,
    /// Licence of the file (required: never assume the data licence covers it).
    pub licence: String,
    /// Credit.
    pub credit: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
}

/// Longest accepted text.
pub const MAX_TEXT: usize = 10_000;
const MAX_SHORT: usize = 300;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid { field: field.to_owned(), message: message.into() }
}

fn text(field: &str, v: &str, max: usize) -> Result<String> {
    let t = v.trim();
    if t.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "control characters are not allowed"));
    }
    Ok(t.to_owned())
}

/// Checks multilingual texts and turns them into `{"fr": …}`.
pub fn texts(field: &str, t: &TextsInput, max: usize, need_fr: bool) -> Result<Value> {
    let mut m = Map::new();
    for (code, v) in [("fr", &t.fr), ("en", &t.en), ("nl", &t.nl), ("de", &t.de)] {
        if let Some(v) = v {
            let v = text(&format!("{field}.{code}"), v, max)?;
            if !v.is_empty() {
                m.insert(code.to_owned(), json!(v));
            }
        }
    }
    if need_fr && !m.contains_key("fr") {
        return Err(invalid(&format!("{field}.fr"), "the French text is required"));
    }
    Ok(Value::Object(m))
}

/// Checks an http(s) URL.
pub fn url(field: &str, v: &str) -> Result<String> {
    let parsed = url::Url::parse(v.trim()).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(|h| !h.contains('.')) {
        return Err(invalid(field, "an http or https URL with a host name is expected"));
    }
    Ok(parsed.to_string())
}

/// Checks an e-mail address (one `@`, a dotted domain, no spaces).
pub fn email(field: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain.contains('.')
                && !domain.contains('@')
        })
        && !v.chars().any(char::is_whitespace);
    if !ok {
        return Err(invalid(field, "not an e-mail address"));
    }
    Ok(v.to_owned())
}

/// Checks a phone number: digits with optional `+`, spaces, dots, dashes and brackets.
pub fn phone(field: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let ok = (6..=20).contains(&digits)
        && v.chars().all(|c| c.is_ascii_digit() || " +.-()".contains(c))
        && !v[1..].contains('+');
    if !ok {
        return Err(invalid(field, "not a phone number"));
    }
    Ok(v.to_owned())
}

/// Checks a GeoJSON geometry: RFC 7946 shape, coordinates in range, rings closed, valid for `geo`.
pub fn geometry(field: &str, v: &Value) -> Result<geo::Geometry<f64>> {
    let g = seed::geometry::parse(v).map_err(|e| invalid(field, e.to_string()))?;
    if let Some(err) = coordinates_out_of_range(&g) {
        return Err(invalid(field, err));
    }
    if let Value::Object(o) = v
        && let Some(rings) = o.get("coordinates")
    {
        let polygons: Vec<&Value> = match o.get("type").and_then(Value::as_str) {
            Some("Polygon") => vec![rings],
            Some("MultiPolygon") => rings.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
            _ => vec![],
        };
        for p in polygons {
            for ring in p.as_array().into_iter().flatten() {
                let pts = ring.as_array().map(Vec::len).unwrap_or(0);
                if pts < 4 || ring.get(0) != ring.get(pts - 1) {
                    return Err(invalid(field, "every ring must be closed and have at least four positions"));
                }
            }
        }
    }
    if let Err(e) = g.check_validation() {
        return Err(invalid(field, format!("invalid geometry: {e}")));
    }
    if matches!(g, geo::Geometry::GeometryCollection(_) | geo::Geometry::MultiPoint(_)) {
        return Err(invalid(field, "a footprint is a Polygon, MultiPolygon, LineString or MultiLineString"));
    }
    Ok(g)
}

fn coordinates_out_of_range(g: &geo::Geometry<f64>) -> Option<String> {
    use geo::CoordsIter;
    g.coords_iter()
        .find(|c| {
            !c.x.is_finite() || !c.y.is_finite() || !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y)
        })
        .map(|c| format!("position [{}, {}] is out of range", c.x, c.y))
}

/// The commune of the territory holding a point, if any.
pub fn commune_at(catalog: &Catalog, lon: f64, lat: f64) -> Option<String> {
    catalog.communes.iter().find(|c| c.geometry.contains(&Point::new(lon, lat))).map(|c| c.insee.clone())
}

/// Checks a point.
pub fn location(field: &str, l: LocationInput) -> Result<(f64, f64)> {
    if !l.lat.is_finite() || !(-90.0..=90.0).contains(&l.lat) {
        return Err(invalid(&format!("{field}.lat"), "between -90 and 90"));
    }
    if !l.lon.is_finite() || !(-180.0..=180.0).contains(&l.lon) {
        return Err(invalid(&format!("{field}.lon"), "between -180 and 180"));
    }
    Ok((l.lon, l.lat))
}

/// Checks an opening-hours expression with the `opening-hours` parser.
pub fn opening_hours(field: &str, v: &str) -> Result<String> {
    let v = text(field, v, 1000)?;
    seed::hours::parse(&v).map_err(|e| invalid(field, format!("not OpenStreetMap opening_hours syntax: {e}")))?;
    Ok(v)
}

/// Checks a capacity.
pub fn capacity(field: &str, c: &CapacityInput) -> Result<Value> {
    let mut m = Map::new();
    for (k, v, max) in
        [("beds", c.beds, 10_000), ("rooms", c.rooms, 5_000), ("units", c.units, 5_000), ("people", c.people, 50_000)]
    {
        if let Some(v) = v {
            if !(0..=max).contains(&v) {
                return Err(invalid(&format!("{field}.{k}"), format!("between 0 and {max}")));
            }
            m.insert(k.to_owned(), json!(v));
        }
    }
    Ok(Value::Object(m))
}

/// Checks a list of short labels or codes.
pub fn codes(field: &str, v: &[String]) -> Result<Vec<String>> {
    if v.len() > 50 {
        return Err(invalid(field, "at most 50 items"));
    }
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.trim();
            if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) {
                Err(invalid(&format!("{field}[{i}]"), "1 to 100 printable characters"))
            } else {
                Ok(s.to_owned())
            }
        })
        .collect()
}

/// Checks contacts.
pub fn contact(field: &str, c: &ContactInput) -> Result<Value> {
    let list = |name: &str, v: &Option<Vec<String>>, check: fn(&str, &str) -> Result<String>| -> Result<Vec<String>> {
        let v = v.as_deref().unwrap_or_default();
        if v.len() > 10 {
            return Err(invalid(&format!("{field}.{name}"), "at most 10 items"));
        }
        v.iter().enumerate().map(|(i, s)| check(&format!("{field}.{name}[{i}]"), s)).collect()
    };
    Ok(json!({
        "phones": list("phones", &c.phones, phone)?,
        "emails": list("emails", &c.emails, email)?,
        "websites": list("websites", &c.websites, url)?,
    }))
}

/// Short description limit.
pub fn short_limit() -> usize {
    MAX_SHORT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_emails_and_phones() {
        assert!(url("f", "https://www.example.fr/page").is_ok());
        assert!(url("f", "javascript:alert(1)").is_err());
        assert!(url("f", "www.example.fr").is_err());
        assert!(email("f", "office@tourisme.fr").is_ok());
        assert!(email("f", "no at sign").is_err());
        assert!(email("f", "a@b").is_err());
        assert!(phone("f", "+33 3 27 22 24 55").is_ok());
        assert!(phone("f", "03 27 22 24 55").is_ok());
        assert!(phone("f", "call me").is_err());
    }

    #[test]
    fn broken_geometries_are_refused() {
        let bowtie =
            json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.4],[3.5,50.3],[3.4,50.4],[3.4,50.3]]]});
        assert!(geometry("g", &bowtie).is_err());
        let open = json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.3],[3.5,50.4],[3.4,50.4]]]});
        assert!(geometry("g", &open).is_err());
        let far = json!({"type": "LineString", "coordinates": [[3.4,50.3],[200,50.3]]});
        assert!(geometry("g", &far).is_err());
        let ok = json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.3],[3.5,50.4],[3.4,50.4],[3.4,50.3]]]});
        assert!(geometry("g", &ok).is_ok());
    }

    #[test]
    fn opening_hours_are_parsed() {
        assert!(opening_hours("h", "Mo-Fr 10:00-18:00; Sa 10:00-12:00").is_ok());
        assert!(opening_hours("h", "whenever you like").is_err());
    }
}
