//! Web Mercator (EPSG:3857) as the unit square: x from west to east, y from north to south,
//! so a tile `(z, x, y)` covers `[x, x+1] / 2^z` by `[y, y+1] / 2^z`.

use std::f64::consts::PI;

use geo::{Coord, Geometry, MapCoords};

/// Tile extent in integer units (Mapbox Vector Tiles).
pub const TILE_EXTENT: u32 = 4096;
/// Buffer around a tile, in tile units: what a tile encodes beyond its edges so lines and fills
/// join across tiles. A change within that margin of a tile changes the tile.
pub const TILE_BUFFER: f64 = 64.0;
/// Highest zoom served.
pub const MAX_ZOOM: u8 = 22;

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
