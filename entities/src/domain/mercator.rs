//! Web Mercator (EPSG:3857) as the unit square: x from west to east, y from north to south,
//! so a tile `(z, x, y)` covers `[x, x+1] / 2^z` by `[y, y+1] / 2^z`.

use std::f64::consts::PI;
use std::sync::Arc;

use geo::{Coord, CoordsIter, Geometry, MapCoords, Simplify};

/// Tile extent in integer units (Mapbox Vector Tiles).
pub const TILE_EXTENT: u32 = 4096;
/// Buffer around a tile, in tile units: what a tile encodes beyond its edges so lines and fills
/// join across tiles. A change within that margin of a tile changes the tile.
pub const TILE_BUFFER: f64 = 64.0;
/// Highest zoom served.
pub const MAX_ZOOM: u8 = 22;
/// Simplification tolerance of a tile, in tile units: a quarter of a pixel of a 512-pixel tile.
pub const TILE_SIMPLIFY: f64 = 2.0;
/// Zooms up to which shapes are kept generalised in advance.
const GENERALISED_UP_TO: u8 = 16;
/// Shapes with fewer positions are not generalised in advance: a tile simplifies them at once.
const GENERALISE_FROM: usize = 32;

/// Latitude where Web Mercator stops.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Projects a WGS84 position to the unit square.
pub fn project(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    (x, y)
}

/// Back from the unit square to WGS84 `(lon, lat)`.
pub fn unproject(x: f64, y: f64) -> (f64, f64) {
    let lon = x * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees();
    (lon, lat)
}

/// Projects a whole geometry to the unit square.
pub fn project_geometry(g: &Geometry<f64>) -> Geometry<f64> {
    g.map_coords(|c| {
        let (x, y) = project(c.x, c.y);
        Coord { x, y }
    })
}

/// A shape projected to the unit square, with copies generalised in advance, as tile generators
/// keep them: for each zoom up to 16 where simplifying changes the shape, the shape simplified
/// with the tolerance a tile of that zoom applies (`TILE_SIMPLIFY`; equal copies are shared).
/// A cold tile then simplifies a shape of about the vertices it will keep: simplifying is
/// idempotent, so a shape within the tile comes out as it would from the full shape; across
/// the tile's edge the clip may cut the copy where it cut the full shape differently
/// (BENCHMARKS.md counts the tiles that differ).
#[derive(Debug, Clone, PartialEq)]
pub struct Projected {
    /// The shape at full resolution.
    pub full: Geometry<f64>,
    /// Generalised copies by zoom, ascending; a zoom without one uses the full shape.
    levels: Vec<(u8, Arc<Geometry<f64>>)>,
}

impl Projected {
    /// Projects a WGS84 shape and generalises it for each zoom where that changes it (shapes of
    /// `GENERALISE_FROM` positions or more: a tile simplifies smaller ones at once).
    pub fn new(g: &Geometry<f64>) -> Projected {
        let full = project_geometry(g);
        let mut levels: Vec<(u8, Arc<Geometry<f64>>)> = Vec::new();
        if full.coords_count() >= GENERALISE_FROM {
            for z in 0..=GENERALISED_UP_TO {
                let tolerance = TILE_SIMPLIFY / f64::from(TILE_EXTENT) / f64::from(1u32 << z);
                let Some(simple) = simplify(&full, tolerance) else { break };
                if simple == full {
                    continue;
                }
                let copy = match levels.last() {
                    Some((_, previous)) if **previous == simple => previous.clone(),
                    _ => Arc::new(simple),
                };
                levels.push((z, copy));
            }
        }
        Projected { full, levels }
    }

    /// The copy a tile of zoom `z` starts from.
    pub fn at_zoom(&self, z: u8) -> &Geometry<f64> {
        self.levels.binary_search_by_key(&z, |(at, _)| *at).map_or(&self.full, |i| &*self.levels[i].1)
    }

    /// Whether [`Projected::at_zoom`] gives, for zoom `z`, a shape that simplifying with the
    /// tolerance of a tile of that zoom leaves as it is (a copy, or the full shape where
    /// simplifying changes nothing): a tile it lies within need not simplify it again.
    /// Simplifying is idempotent, and a tile's coordinates are these scaled by a power of two
    /// and moved by whole tiles, which keeps every comparison the simplification makes.
    pub fn simplified_at(&self, z: u8) -> bool {
        z <= GENERALISED_UP_TO
            && self.full.coords_count() >= GENERALISE_FROM
            && !matches!(self.full, Geometry::Point(_) | Geometry::MultiPoint(_))
    }

    /// How many zooms have a generalised copy.
    #[cfg(test)]
    fn levels(&self) -> usize {
        self.levels.len()
    }
}

/// The shapes tiles simplify: lines and polygons (points have nothing to remove).
fn simplify(g: &Geometry<f64>, tolerance: f64) -> Option<Geometry<f64>> {
    Some(match g {
        Geometry::LineString(l) => Geometry::LineString(l.simplify(tolerance)),
        Geometry::MultiLineString(l) => Geometry::MultiLineString(l.simplify(tolerance)),
        Geometry::Polygon(p) => Geometry::Polygon(p.simplify(tolerance)),
        Geometry::MultiPolygon(p) => Geometry::MultiPolygon(p.simplify(tolerance)),
        _ => return None,
    })
}

/// The tiles of zoom `z` whose buffered area meets a WGS84 box `(west, south, east, north)`:
/// the inclusive ranges of their `x` and of their `y`.
pub fn tiles_meeting(bbox: [f64; 4], z: u8) -> ([u32; 2], [u32; 2]) {
    let n = f64::from(1u32 << z);
    let margin = TILE_BUFFER / f64::from(TILE_EXTENT) / n;
    let (x0, y0) = project(bbox[0], bbox[3]);
    let (x1, y1) = project(bbox[2], bbox[1]);
    let last = (1u32 << z) - 1;
    let cell = |v: f64| -> u32 {
        let c = (v * n).floor();
        if c <= 0.0 { 0 } else { (c as u32).min(last) }
    };
    ([cell(x0 - margin), cell(x1 + margin)], [cell(y0 - margin), cell(y1 + margin)])
}

/// The WGS84 bounds `(west, south, east, north)` of a tile.
pub fn tile_bounds(z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let (west, north) = unproject(f64::from(x) / n, f64::from(y) / n);
    let (east, south) = unproject(f64::from(x + 1) / n, f64::from(y + 1) / n);
    [west, south, east, north]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commune-like ring: 3,000 positions around (3.4, 50.4), about 4 km across, wobbling.
    fn detailed() -> Geometry<f64> {
        let ring: Vec<Coord<f64>> = (0..=3000)
            .map(|i| {
                let a = f64::from(i % 3000) / 3000.0 * std::f64::consts::TAU;
                let r = 0.02 * (1.0 + 0.05 * (a * 37.0).sin() + 0.002 * (a * 911.0).sin());
                Coord { x: 3.4 + r * a.cos(), y: 50.4 + r * a.sin() }
            })
            .collect();
        Geometry::Polygon(geo::Polygon::new(geo::LineString(ring), vec![]))
    }

    #[test]
    fn generalised_copies_are_what_a_tile_of_their_zoom_would_simplify() {
        let p = Projected::new(&detailed());
        assert!(p.levels() >= 3, "{} levels", p.levels());
        let mut previous = 0;
        for z in 0..=GENERALISED_UP_TO {
            let tolerance = TILE_SIMPLIFY / f64::from(TILE_EXTENT) / f64::from(1u32 << z);
            let copy = p.at_zoom(z);
            // The copies have fewer positions the lower the zoom (where a ring would fall under
            // four positions the simplification keeps it whole, and the zoom has no copy).
            let n = copy.coords_count();
            assert!(n <= p.full.coords_count(), "z{z}: {n} positions");
            if !std::ptr::eq(copy, &p.full) {
                assert!(n >= previous, "z{z}: {n} positions after {previous}");
                previous = n;
            }
            // Simplifying the copy as the tile does gives what simplifying the full shape gives,
            // which is the copy itself.
            assert_eq!(simplify(copy, tolerance), simplify(&p.full, tolerance), "z{z}");
            assert!(p.simplified_at(z), "z{z}");
            assert_eq!(simplify(copy, tolerance).as_ref(), Some(copy), "z{z}");
        }
        assert!(p.at_zoom(8).coords_count() * 10 < p.full.coords_count());
        assert_eq!(p.at_zoom(MAX_ZOOM), &p.full, "above the last copy, the full shape");
        // Small shapes and points keep no copy.
        let small = Geometry::LineString(geo::LineString::from(vec![(3.4, 50.4), (3.5, 50.5), (3.6, 50.4)]));
        assert_eq!(Projected::new(&small).levels(), 0);
        assert!(!Projected::new(&small).simplified_at(10), "a small shape is simplified by its tile");
        assert!(!p.simplified_at(GENERALISED_UP_TO + 1), "nor is a shape above the last copy");
        assert_eq!(Projected::new(&Geometry::Point(geo::Point::new(3.4, 50.4))).levels(), 0);
    }

    #[test]
    fn projection_round_trips() {
        let (x, y) = project(3.4265, 50.3836);
        let (lon, lat) = unproject(x, y);
        assert!((lon - 3.4265).abs() < 1e-9 && (lat - 50.3836).abs() < 1e-9);
    }

    #[test]
    fn a_point_meets_its_tile_and_the_neighbours_its_buffer_reaches() {
        let (x, y) = tiles_meeting([3.4265, 50.3836, 3.4265, 50.3836], 14);
        assert!(x[0] <= 8347 && 8347 <= x[1] && y[0] <= 5529 && 5529 <= y[1]);
        assert!(x[1] - x[0] <= 1 && y[1] - y[0] <= 1);
        let (x, y) = tiles_meeting([-180.0, -85.0, 180.0, 85.0], 2);
        assert_eq!((x, y), ([0, 3], [0, 3]));
    }

    #[test]
    fn the_fosse_d_arenberg_is_in_the_z14_tile_8347_5529() {
        let (x, y) = project(3.4265, 50.3836);
        let n = f64::from(1u32 << 14);
        assert_eq!(((x * n) as u32, (y * n) as u32), (8347, 5529));
        let [w, s, e, north] = tile_bounds(14, 8347, 5529);
        assert!(w <= 3.4265 && 3.4265 <= e && s <= 50.3836 && 50.3836 <= north);
    }
}
