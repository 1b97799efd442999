//! GeoJSON in and out of `geo` types, and the checks a geometry must pass to enter the offer:
//! shared by the API, the territory loader and the importers.
//!
//! Output follows RFC 7946 to the letter: `[lon, lat]`, at most six decimals, exterior rings
//! counter-clockwise and holes clockwise (the source files have them the other way round).

use geo::{BoundingRect, Coord, Geometry, LineString, Polygon};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Why a GeoJSON geometry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GeometryError {
    /// The JSON is not a GeoJSON geometry.
    #[error("not a GeoJSON geometry: {0}")]
    NotGeoJson(String),
    /// The geometry has no coordinates.
    #[error("the geometry is empty")]
    Empty,
}

/// Checks that every position is an array of two or three finite numbers, nested as the type
/// says, before the conversion (which indexes positions without checking them).
fn check_positions(v: &Value, depth: usize) -> Result<(), GeometryError> {
    let bad = || GeometryError::NotGeoJson("every position must be [longitude, latitude]".into());
    let items = v.as_array().ok_or_else(bad)?;
    if depth == 0 {
        let ok = (2..=3).contains(&items.len()) && items.iter().all(|n| n.as_f64().is_some_and(f64::is_finite));
        return if ok { Ok(()) } else { Err(bad()) };
    }
    items.iter().try_for_each(|i| check_positions(i, depth - 1))
}

/// Reads a GeoJSON geometry object.
pub fn parse(value: &Value) -> Result<Geometry<f64>, GeometryError> {
    let depth = match value.get("type").and_then(Value::as_str) {
        Some("Point") => Some(0),
        Some("MultiPoint" | "LineString") => Some(1),
        Some("MultiLineString" | "Polygon") => Some(2),
        Some("MultiPolygon") => Some(3),
        _ => None,
    };
    if let (Some(depth), Some(coords)) = (depth, value.get("coordinates")) {
        check_positions(coords, depth)?;
    }
    if let Some(Value::Array(parts)) = value.get("geometries") {
        for part in parts {
            parse(part)?;
        }
    }
    let geometry: geojson::Geometry =
        serde_json::from_value(value.clone()).map_err(|e| GeometryError::NotGeoJson(e.to_string()))?;
    Geometry::<f64>::try_from(geometry).map_err(|e| GeometryError::NotGeoJson(e.to_string()))
}

/// Rounds a coordinate to six decimals (about 10 cm), as RFC 7946 recommends.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// A geometry as it is written out: RFC 7946 GeoJSON (CCW exteriors, CW holes, six decimals),
/// serialised straight from the `geo` value, with no JSON tree in between. `to_geojson`, the
/// GraphQL `geometry` fields and the layers all write through it.
#[derive(Debug, Clone, Copy)]
pub struct GeoJson<'a>(pub &'a Geometry<f64>);

impl Serialize for GeoJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        match self.0 {
            Geometry::Point(p) => {
                map.serialize_entry("type", "Point")?;
                map.serialize_entry("coordinates", &Position(p.0))?;
            }
            Geometry::MultiPoint(mp) => {
                map.serialize_entry("type", "MultiPoint")?;
                map.serialize_entry("coordinates", &Seq(|| mp.iter().map(|p| Position(p.0))))?;
            }
            Geometry::LineString(ls) => {
                map.serialize_entry("type", "LineString")?;
                map.serialize_entry("coordinates", &Ring(ls, Winding::AsIs))?;
            }
            Geometry::Line(l) => {
                map.serialize_entry("type", "LineString")?;
                map.serialize_entry("coordinates", &[Position(l.start), Position(l.end)])?;
            }
            Geometry::MultiLineString(mls) => {
                map.serialize_entry("type", "MultiLineString")?;
                map.serialize_entry("coordinates", &Seq(|| mls.iter().map(|l| Ring(l, Winding::AsIs))))?;
            }
            Geometry::Polygon(p) => {
                map.serialize_entry("type", "Polygon")?;
                map.serialize_entry("coordinates", &Rings(p))?;
            }
            Geometry::Rect(r) => {
                map.serialize_entry("type", "Polygon")?;
                map.serialize_entry("coordinates", &Rings(&r.to_polygon()))?;
            }
            Geometry::Triangle(t) => {
                map.serialize_entry("type", "Polygon")?;
                map.serialize_entry("coordinates", &Rings(&t.to_polygon()))?;
            }
            Geometry::MultiPolygon(mp) => {
                map.serialize_entry("type", "MultiPolygon")?;
                map.serialize_entry("coordinates", &Seq(|| mp.iter().map(Rings)))?;
            }
            Geometry::GeometryCollection(gc) => {
                map.serialize_entry("type", "GeometryCollection")?;
                map.serialize_entry("geometries", &Seq(|| gc.iter().map(GeoJson)))?;
            }
        }
        map.end()
    }
}

/// `[lon, lat]` rounded to six decimals.
struct Position(Coord<f64>);

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [round6(self.0.x), round6(self.0.y)].serialize(s)
    }
}

/// Which way a ring must turn when written.
#[derive(Clone, Copy)]
enum Winding {
    /// A line: written in its own order.
    AsIs,
    /// An exterior ring: counter-clockwise.
    CounterClockwise,
    /// A hole: clockwise.
    Clockwise,
}

/// A line or ring's positions, reversed when the ring turns the wrong way (no copy of the ring).
struct Ring<'a>(&'a LineString<f64>, Winding);

impl Serialize for Ring<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use geo::Winding as _;
        let reverse = match self.1 {
            Winding::AsIs => false,
            Winding::CounterClockwise => self.0.is_cw(),
            Winding::Clockwise => self.0.is_ccw(),
        };
        let coords = self.0.coords().map(|c| Position(*c));
        if reverse { s.collect_seq(coords.rev()) } else { s.collect_seq(coords) }
    }
}

/// A polygon's rings: the exterior counter-clockwise, then the holes clockwise.
struct Rings<'a>(&'a Polygon<f64>);

impl Serialize for Rings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let holes = p.interiors().iter().map(|h| Ring(h, Winding::Clockwise));
        s.collect_seq(std::iter::once(Ring(p.exterior(), Winding::CounterClockwise)).chain(holes))
    }
}

/// A sequence made by an iterator, written without collecting it.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// Writes a geometry as an RFC 7946 GeoJSON object (CCW exteriors, six decimals).
pub fn to_geojson(g: &Geometry<f64>) -> Value {
    serde_json::to_value(GeoJson(g)).unwrap_or(Value::Null)
}

/// The bounding box `(west, south, east, north)` of a geometry.
pub fn bbox(g: &Geometry<f64>) -> Result<[f64; 4], GeometryError> {
    let r = g.bounding_rect().ok_or(GeometryError::Empty)?;
    Ok([r.min().x, r.min().y, r.max().x, r.max().y])
}

/// Reads a footprint or line as it may enter the offer, whoever sends it: an RFC 7946 Polygon,
/// MultiPolygon, LineString or MultiLineString, positions in range, rings closed with at least
/// four positions, valid by `geo`'s rules (no self-intersection). The message says what is wrong.
pub fn footprint(value: &Value) -> Result<Geometry<f64>, String> {
    use geo::Validation;
    let g = parse(value).map_err(|e| e.to_string())?;
    if !matches!(
        g,
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::LineString(_) | Geometry::MultiLineString(_)
    ) {
        return Err("a footprint is a Polygon, MultiPolygon, LineString or MultiLineString".into());
    }
    if let Some(c) = out_of_range(&g) {
        return Err(format!("position [{}, {}] is out of range", c.x, c.y));
    }
    let polygons: Vec<&Value> = match (value.get("type").and_then(Value::as_str), value.get("coordinates")) {
        (Some("Polygon"), Some(rings)) => vec![rings],
        (Some("MultiPolygon"), Some(Value::Array(polys))) => polys.iter().collect(),
        _ => vec![],
    };
    for p in polygons {
        for ring in p.as_array().into_iter().flatten() {
            let n = ring.as_array().map_or(0, Vec::len);
            if n < 4 || ring.get(0) != ring.get(n - 1) {
                return Err("every ring must be closed and have at least four positions".into());
            }
        }
    }
    g.check_validation().map_err(|e| format!("invalid geometry: {e}"))?;
    Ok(g)
}

/// The first position that is not a finite WGS84 longitude and latitude.
fn out_of_range(g: &Geometry<f64>) -> Option<Coord<f64>> {
    use geo::CoordsIter;
    g.coords_iter().find(|c| {
        !c.x.is_finite() || !c.y.is_finite() || !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use geo::orient::{Direction, Orient};
    use serde_json::json;

    /// What the writer must produce, by `geo`'s own orientation: each ring of `g` oriented, then
    /// written position by position.
    fn expected(g: &Geometry<f64>) -> Value {
        let pos = |c: &Coord<f64>| json!([round6(c.x), round6(c.y)]);
        let line = |l: &LineString<f64>| Value::Array(l.coords().map(pos).collect());
        let rings = |p: &Polygon<f64>| {
            let p = p.orient(Direction::Default);
            Value::Array(std::iter::once(p.exterior()).chain(p.interiors()).map(line).collect())
        };
        match g {
            Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": rings(p)}),
            Geometry::MultiPolygon(mp) => {
                json!({"type": "MultiPolygon", "coordinates": mp.iter().map(rings).collect::<Vec<_>>()})
            }
            Geometry::MultiLineString(ml) => {
                json!({"type": "MultiLineString", "coordinates": ml.iter().map(line).collect::<Vec<_>>()})
            }
            other => panic!("no expectation written for {other:?}"),
        }
    }

    #[test]
    fn rings_are_written_as_geo_orients_them_holes_included() {
        // Exterior clockwise with a counter-clockwise hole, then the other way round, then a line
        // that must keep its order whatever way it turns.
        let inputs = [
            json!({"type": "Polygon", "coordinates": [
                [[0,0],[0,10],[10,10],[10,0],[0,0]], [[2,2],[4,2],[4,4],[2,4],[2,2]]]}),
            json!({"type": "MultiPolygon", "coordinates": [
                [[[0,0],[10,0],[10,10],[0,10],[0,0]], [[2,2],[2,4],[4,4],[4,2],[2,2]]],
                [[[20,0],[20,5],[25,5],[20,0]]]]}),
            json!({"type": "MultiLineString", "coordinates": [[[0,0],[0,1],[1,1],[1,0],[0,0]], [[3.1234567,50.5],[3.2,50.6]]]}),
        ];
        for input in inputs {
            let g = parse(&input).expect("valid geometry");
            let want = expected(&g);
            assert_eq!(to_geojson(&g), want, "{input}");
            let text: Value =
                serde_json::from_str(&serde_json::to_string(&GeoJson(&g)).expect("written")).expect("the text is JSON");
            assert_eq!(text, want, "{input}");
        }
    }

    #[test]
    fn clockwise_source_rings_come_out_counter_clockwise() {
        // A clockwise square, as the source files store their exteriors.
        let cw = json!({"type": "Polygon", "coordinates": [[[0,0],[0,1],[1,1],[1,0],[0,0]]]});
        let g = parse(&cw).expect("valid polygon");
        let out = parse(&to_geojson(&g)).expect("round trip");
        let Geometry::Polygon(p) = out else { panic!("still a polygon") };
        assert!(p.signed_area() > 0.0, "RFC 7946 wants a counter-clockwise exterior");
    }

    #[test]
    fn coordinates_are_rounded_to_six_decimals() {
        let g = parse(&json!({"type": "Point", "coordinates": [3.123456789, 50.987654321]})).expect("valid point");
        assert_eq!(to_geojson(&g), json!({"type": "Point", "coordinates": [3.123457, 50.987654]}));
    }

    #[test]
    fn footprints_are_checked_as_every_writer_needs() {
        let bowtie =
            json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.4],[3.5,50.3],[3.4,50.4],[3.4,50.3]]]});
        assert!(footprint(&bowtie).is_err_and(|e| e.contains("invalid geometry")));
        let open = json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.3],[3.5,50.4],[3.4,50.4]]]});
        assert!(footprint(&open).is_err_and(|e| e.contains("closed")));
        let far = json!({"type": "LineString", "coordinates": [[3.4,50.3],[200,50.3]]});
        assert!(footprint(&far).is_err_and(|e| e.contains("out of range")));
        assert!(footprint(&json!({"type": "Point", "coordinates": [3.4, 50.3]})).is_err());
        let ok = json!({"type": "Polygon", "coordinates": [[[3.4,50.3],[3.5,50.3],[3.5,50.4],[3.4,50.4],[3.4,50.3]]]});
        assert!(footprint(&ok).is_ok());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse(&json!({"type": "Pointless"})).is_err());
        // A one-number position made the geojson conversion panic: it is refused before.
        assert!(parse(&json!({"type": "LineString", "coordinates": [[3.4]]})).is_err());
        assert!(parse(&json!({"type": "Polygon", "coordinates": [[[3.4, 50.3], [1.0]]]})).is_err());
        assert!(
            parse(&json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1.0]}]}))
                .is_err()
        );
    }
}
