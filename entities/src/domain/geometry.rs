//! GeoJSON in and out of `geo` types, and the checks a geometry must pass to enter the offer:
//! shared by the API, the territory loader and the importers.
//!
//! Output follows RFC 7946 to the letter: `[lon, lat]`, at most six decimals, exterior rings
//! counter-clockwise and holes clockwise (the source files have them the other way round).

use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Coord, Geometry, LineString, Polygon};
use serde_json::{Value, json};

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

fn position(c: Coord<f64>) -> Value {
    json!([round6(c.x), round6(c.y)])
}

fn line(ls: &LineString<f64>) -> Value {
    Value::Array(ls.coords().map(|c| position(*c)).collect())
}

fn polygon(p: &Polygon<f64>) -> Value {
    let p = p.orient(Direction::Default);
    let mut rings = vec![line(p.exterior())];
    rings.extend(p.interiors().iter().map(line));
    Value::Array(rings)
}

/// Writes a geometry as an RFC 7946 GeoJSON object (CCW exteriors, six decimals).
pub fn to_geojson(g: &Geometry<f64>) -> Value {
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": position(p.0)}),
        Geometry::MultiPoint(mp) => {
            json!({"type": "MultiPoint", "coordinates": mp.iter().map(|p| position(p.0)).collect::<Vec<_>>()})
        }
        Geometry::LineString(ls) => json!({"type": "LineString", "coordinates": line(ls)}),
        Geometry::Line(l) => {
            json!({"type": "LineString", "coordinates": [position(l.start), position(l.end)]})
        }
        Geometry::MultiLineString(mls) => {
            json!({"type": "MultiLineString", "coordinates": mls.iter().map(line).collect::<Vec<_>>()})
        }
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": polygon(p)}),
        Geometry::Rect(r) => json!({"type": "Polygon", "coordinates": polygon(&r.to_polygon())}),
        Geometry::Triangle(t) => {
            json!({"type": "Polygon", "coordinates": polygon(&t.to_polygon())})
        }
        Geometry::MultiPolygon(mp) => {
            json!({"type": "MultiPolygon", "coordinates": mp.iter().map(polygon).collect::<Vec<_>>()})
        }
        Geometry::GeometryCollection(gc) => {
            json!({"type": "GeometryCollection", "geometries": gc.iter().map(to_geojson).collect::<Vec<_>>()})
        }
    }
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
