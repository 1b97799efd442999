//! Encoding one Mapbox Vector Tile (spec 2.1) from the catalog: features are taken from the
//! R-tree, moved into tile space, clipped to the buffered tile (a polygon whose rings cross the
//! tile's edge cleanly is cut by walking the edge, `clipped_simply`; one that touches it goes
//! through the boolean operation), simplified to about a quarter of a pixel, snapped to the integer grid, cleaned (no repeated point, no zero-length segment, no
//! degenerate ring) and oriented as the spec wants; geozero writes the protobuf.
//!
//! Orientation: in tile space (y pointing down) an exterior ring must be clockwise, which is a
//! positive area by the surveyor's formula on the raw integers; holes are the opposite. geozero
//! does not orient rings, so this module does.

use geo::{BooleanOps, Coord, Geometry, LineString, MultiLineString, MultiPolygon, Polygon, Rect, Simplify};
use geozero::ToMvt;
use geozero::mvt::{Message, TagsBuilder, Tile, TileValue, tile};

use entities::domain::mercator::{self, TILE_BUFFER as BUFFER, TILE_EXTENT as EXTENT};

use super::Layer;
use crate::catalog::{Catalog, OfferRecord};
use crate::lang::Lang;
/// Simplification tolerance in units: a quarter of a pixel of a 512-pixel tile.
pub const SIMPLIFY: f64 = mercator::TILE_SIMPLIFY;

/// A tile address, checked: `z` at most 22, `x` and `y` below `2^z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// Highest zoom served.
pub use entities::domain::mercator::MAX_ZOOM;

impl TileCoord {
    /// Checks a tile address.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileCoord, String> {
        if z > u32::from(MAX_ZOOM) {
            return Err(format!("zoom {z} is above the maximum of {MAX_ZOOM}"));
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(format!("tile {z}/{x}/{y} does not exist: x and y must be below {n} at zoom {z}"));
        }
        Ok(TileCoord { z: z as u8, x, y })
    }

    /// Bounds in WGS84 with the buffer, for the R-tree query.
    fn buffered_bounds(self) -> [f64; 4] {
        let n = f64::from(1u32 << self.z);
        let b = BUFFER / f64::from(EXTENT);
        let (w, north) = mercator::unproject((f64::from(self.x) - b) / n, (f64::from(self.y) - b) / n);
        let (e, s) = mercator::unproject((f64::from(self.x) + 1.0 + b) / n, (f64::from(self.y) + 1.0 + b) / n);
        [w, s, e, north]
    }

    /// From the unit square to this tile's units.
    fn to_tile(self, x: f64, y: f64) -> Coord<f64> {
        let n = f64::from(1u32 << self.z);
        let e = f64::from(EXTENT);
        Coord { x: (x * n - f64::from(self.x)) * e, y: (y * n - f64::from(self.y)) * e }
    }
}

fn clip_rect() -> Rect<f64> {
    let e = f64::from(EXTENT);
    Rect::new(Coord { x: -BUFFER, y: -BUFFER }, Coord { x: e + BUFFER, y: e + BUFFER })
}

/// The part of a ring within `r` (Sutherland–Hodgman: the rectangle is convex, so clipping
/// against its four sides in turn is exact; where the ring leaves the rectangle and comes back,
/// the result runs along its side). Closed, or empty when nothing of the ring is within.
fn ring_within(ring: &LineString<f64>, r: &Rect<f64>) -> Vec<Coord<f64>> {
    let mut points: Vec<Coord<f64>> = ring.0.clone();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    let (min, max) = (r.min(), r.max());
    for side in 0..4 {
        let within = |c: Coord<f64>| match side {
            0 => c.x >= min.x,
            1 => c.x <= max.x,
            2 => c.y >= min.y,
            _ => c.y <= max.y,
        };
        // Where the segment from `a` to `b` crosses the side (one end within, one without).
        let cross = |a: Coord<f64>, b: Coord<f64>| match side {
            0 | 1 => {
                let x = if side == 0 { min.x } else { max.x };
                Coord { x, y: a.y + (x - a.x) / (b.x - a.x) * (b.y - a.y) }
            }
            _ => {
                let y = if side == 2 { min.y } else { max.y };
                Coord { x: a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x), y }
            }
        };
        let mut kept = Vec::with_capacity(points.len() + 4);
        for (i, &current) in points.iter().enumerate() {
            let previous = points[(i + points.len() - 1) % points.len()];
            match (within(previous), within(current)) {
                (true, true) => kept.push(current),
                (true, false) => kept.push(cross(previous, current)),
                (false, true) => {
                    kept.push(cross(previous, current));
                    kept.push(current);
                }
                (false, false) => {}
            }
        }
        points = kept;
    }
    if points.len() < 3 {
        return Vec::new();
    }
    points.push(points[0]);
    points
}

/// The polygons cut down to `r`, a rectangle a little larger than the tile's: what lies within
/// the tile is unchanged, and the exact clip that follows meets only the segments near the tile
/// rather than every segment of a commune many tiles wide.
fn near_the_tile(mp: &MultiPolygon<f64>, r: &Rect<f64>) -> MultiPolygon<f64> {
    MultiPolygon(
        mp.0.iter()
            .filter_map(|p| {
                let exterior = ring_within(p.exterior(), r);
                (!exterior.is_empty()).then(|| {
                    let holes = p
                        .interiors()
                        .iter()
                        .map(|h| ring_within(h, r))
                        .filter(|h| !h.is_empty())
                        .map(LineString)
                        .collect();
                    Polygon::new(LineString(exterior), holes)
                })
            })
            .collect(),
    )
}

/// How a ring lies against a rectangle.
#[derive(Debug, PartialEq, Eq)]
enum Against {
    /// Every vertex strictly within.
    Within,
    /// No point within: the ring lies outside the rectangle or around it.
    Apart,
    /// It crosses the rectangle's boundary, each time from one side to the other.
    Crossed,
    /// It touches the boundary (a vertex on it, a segment along it or through a corner): only
    /// the exact clip can say what is within.
    Touching,
}

/// Whether `c` is strictly within `r`, outside it, or on its boundary (`None`).
fn strictly_within(c: Coord<f64>, r: &Rect<f64>) -> Option<bool> {
    let (min, max) = (r.min(), r.max());
    if c.x > min.x && c.x < max.x && c.y > min.y && c.y < max.y {
        Some(true)
    } else if c.x < min.x || c.x > max.x || c.y < min.y || c.y > max.y {
        Some(false)
    } else {
        None
    }
}

/// Whether the segment from `a` to `b`, both ends outside `r`, passes through it
/// (Liang–Barsky); `None` when it only touches it or runs along a side.
fn passes_through(a: Coord<f64>, b: Coord<f64>, r: &Rect<f64>) -> Option<bool> {
    let (d, min, max) = (b - a, r.min(), r.max());
    // Both ends beyond the same side (most segments of a shape larger than the tile).
    if (a.x < min.x && b.x < min.x)
        || (a.x > max.x && b.x > max.x)
        || (a.y < min.y && b.y < min.y)
        || (a.y > max.y && b.y > max.y)
    {
        return Some(false);
    }
    let (mut enter, mut leave) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-d.x, a.x - min.x), (d.x, max.x - a.x), (-d.y, a.y - min.y), (d.y, max.y - a.y)] {
        if p == 0.0 {
            if q < 0.0 {
                return Some(false);
            }
            if q == 0.0 {
                return None;
            }
            continue;
        }
        let t = q / p;
        if p < 0.0 {
            enter = enter.max(t);
        } else {
            leave = leave.min(t);
        }
    }
    if enter < leave {
        Some(true)
    } else if enter == leave {
        None
    } else {
        Some(false)
    }
}

/// How `ring` (closed) lies against `r`.
fn against(ring: &LineString<f64>, r: &Rect<f64>) -> Against {
    let points = &ring.0;
    let Some(last) = points.last() else { return Against::Apart };
    let Some(mut previous_within) = strictly_within(*last, r) else { return Against::Touching };
    let (mut previous, mut entries, mut all_within) = (*last, 0usize, true);
    for &c in points {
        let Some(within) = strictly_within(c, r) else { return Against::Touching };
        if !within && !previous_within {
            match passes_through(previous, c, r) {
                Some(true) => entries += 1,
                Some(false) => {}
                None => return Against::Touching,
            }
        } else if within && !previous_within {
            entries += 1;
        }
        all_within &= within;
        (previous, previous_within) = (c, within);
    }
    match entries {
        _ if all_within => Against::Within,
        0 => Against::Apart,
        _ => Against::Crossed,
    }
}

/// Whether `c` lies within the closed ring (crossing number).
fn ring_holds(ring: &LineString<f64>, c: Coord<f64>) -> bool {
    let mut holds = false;
    for w in ring.0.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > c.y) != (b.y > c.y) && c.x < a.x + (c.y - a.y) / (b.y - a.y) * (b.x - a.x) {
            holds = !holds;
        }
    }
    holds
}

/// Where the segment from `a` to `b` enters and leaves `r`: the parameter along the segment
/// and the side (0 left, 1 right, 2 bottom, 3 top) of each (Liang–Barsky).
fn crossings(a: Coord<f64>, b: Coord<f64>, r: &Rect<f64>) -> [(f64, usize); 2] {
    let (d, min, max) = (b - a, r.min(), r.max());
    let (mut enter, mut leave) = ((0.0_f64, 0), (1.0_f64, 0));
    for (side, (p, q)) in
        [(-d.x, a.x - min.x), (d.x, max.x - a.x), (-d.y, a.y - min.y), (d.y, max.y - a.y)].into_iter().enumerate()
    {
        if p < 0.0 && q / p > enter.0 {
            enter = (q / p, side);
        } else if p > 0.0 && q / p < leave.0 {
            leave = (q / p, side);
        }
    }
    [enter, leave]
}

/// The point at `t` along the segment from `a` to `b`, put exactly on `side` of `r`.
fn on_side(a: Coord<f64>, b: Coord<f64>, (t, side): (f64, usize), r: &Rect<f64>) -> Coord<f64> {
    let (min, max) = (r.min(), r.max());
    let (x, y) = (a.x + t * (b.x - a.x), a.y + t * (b.y - a.y));
    match side {
        0 => Coord { x: min.x, y: y.clamp(min.y, max.y) },
        1 => Coord { x: max.x, y: y.clamp(min.y, max.y) },
        2 => Coord { x: x.clamp(min.x, max.x), y: min.y },
        _ => Coord { x: x.clamp(min.x, max.x), y: max.y },
    }
}

/// How far along the boundary of `r` a point of it lies, counterclockwise (y up) from the
/// corner at its minimum: 0 to 1 along `min.y`, to 2 along `max.x`, to 3 along `max.y`, to 4
/// along `min.x`. Corner `k` is at `k`.
fn along(c: Coord<f64>, r: &Rect<f64>) -> f64 {
    let (min, max) = (r.min(), r.max());
    let (w, h) = (max.x - min.x, max.y - min.y);
    if c.y == min.y {
        (c.x - min.x) / w
    } else if c.x == max.x {
        1.0 + (c.y - min.y) / h
    } else if c.y == max.y {
        2.0 + (max.x - c.x) / w
    } else {
        3.0 + (max.y - c.y) / h
    }
}

fn corner(k: usize, r: &Rect<f64>) -> Coord<f64> {
    let (min, max) = (r.min(), r.max());
    match k % 4 {
        0 => min,
        1 => Coord { x: max.x, y: min.y },
        2 => max,
        _ => Coord { x: min.x, y: max.y },
    }
}

/// The parts within `r` of a ring that crosses its boundary (`Against::Crossed`): the stretches
/// of the ring within, each joined to the next by the boundary, counterclockwise from where it
/// leaves to the nearest place a stretch enters (the ring turned counterclockwise first), with
/// the corners passed. `None` where a stretch would leave where another enters.
fn cut_ring(ring: &LineString<f64>, r: &Rect<f64>) -> Option<Vec<LineString<f64>>> {
    // Polygons' rings are closed, so the surveyor's formula takes in the closing segment.
    let counterclockwise = surveyor_area(&ring.0) >= 0.0;
    let mut points = ring.0.clone();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if !counterclockwise {
        points.reverse();
    }
    let n = points.len();
    let start = points.iter().position(|&c| strictly_within(c, r) == Some(false))?;
    let mut stretches: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut current: Option<Vec<Coord<f64>>> = None;
    for i in 0..n {
        let (a, b) = (points[(start + i) % n], points[(start + i + 1) % n]);
        match (strictly_within(a, r)?, strictly_within(b, r)?) {
            (true, true) => current.as_mut()?.push(b),
            (true, false) => {
                let mut stretch = current.take()?;
                stretch.push(on_side(a, b, crossings(a, b, r)[1], r));
                stretches.push(stretch);
            }
            (false, true) => current = Some(vec![on_side(a, b, crossings(a, b, r)[0], r), b]),
            (false, false) => {
                if passes_through(a, b, r)? {
                    let [enter, leave] = crossings(a, b, r);
                    stretches.push(vec![on_side(a, b, enter, r), on_side(a, b, leave, r)]);
                }
            }
        }
    }
    let enters: Vec<f64> = stretches.iter().map(|s| along(s[0], r)).collect();
    let leaves: Vec<f64> = stretches.iter().map(|s| along(s[s.len() - 1], r)).collect();
    let mut used = vec![false; stretches.len()];
    let mut rings = Vec::new();
    for first in 0..stretches.len() {
        if used[first] {
            continue;
        }
        let mut out: Vec<Coord<f64>> = Vec::new();
        let mut i = first;
        loop {
            if std::mem::replace(&mut used[i], true) {
                return None;
            }
            out.extend_from_slice(&stretches[i]);
            let (j, gap) = enters
                .iter()
                .enumerate()
                .map(|(j, e)| (j, (e - leaves[i]).rem_euclid(4.0)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            if gap == 0.0 {
                return None;
            }
            let corners = leaves[i].floor() as usize + 1..;
            out.extend(corners.take_while(|&k| (k as f64) < leaves[i] + gap).map(|k| corner(k, r)));
            if j == first {
                break;
            }
            i = j;
        }
        if out.len() >= 3 {
            out.push(out[0]);
            rings.push(LineString(out));
        }
    }
    Some(rings)
}

/// The polygons clipped to `r` exactly without a boolean operation, when every ring crosses
/// its boundary cleanly: each exterior within, apart from or crossing the rectangle (cut by
/// [`cut_ring`]), each hole within or apart from it and not around it. `None` otherwise (a ring
/// touching the boundary, a hole across it): the exact clip decides.
fn clipped_simply(mp: &MultiPolygon<f64>, r: &Rect<f64>) -> Option<MultiPolygon<f64>> {
    let centre = r.center();
    let mut out = Vec::with_capacity(mp.0.len());
    for p in &mp.0 {
        let exteriors = match against(p.exterior(), r) {
            Against::Within => vec![p.exterior().clone()],
            Against::Crossed => cut_ring(p.exterior(), r)?,
            Against::Apart if ring_holds(p.exterior(), centre) => vec![r.to_polygon().exterior().clone()],
            Against::Apart => continue,
            Against::Touching => return None,
        };
        let mut polygons: Vec<Polygon<f64>> = exteriors.into_iter().map(|e| Polygon::new(e, Vec::new())).collect();
        for h in p.interiors() {
            match against(h, r) {
                Against::Within => {
                    let holder = polygons.iter_mut().find(|p| ring_holds(p.exterior(), h.0[0]))?;
                    holder.interiors_push(h.clone());
                }
                Against::Apart if !ring_holds(h, centre) => {}
                _ => return None,
            }
        }
        out.extend(polygons);
    }
    Some(MultiPolygon(out))
}

/// Snaps a line to the grid and drops repeated points (which would be zero-length segments).
fn snap(ls: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ls.0.len());
    for c in &ls.0 {
        let p = Coord { x: c.x.round(), y: c.y.round() };
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// The surveyor's formula on the raw coordinates, as the MVT specification defines the area.
fn surveyor_area(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum::<f64>() / 2.0
}

/// Whether the path from `a` through `b` to `c` turns straight back on itself at `b`.
fn turns_back(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> bool {
    let (u, v) = (b - a, c - b);
    u.x * v.y - u.y * v.x == 0.0 && u.x * v.x + u.y * v.y < 0.0
}

/// Removes from a snapped ring (not closed) the vertices where it turns straight back along
/// itself, and the repeats that leaves. Snapping can make one: a vertex within half a unit of
/// the tile's edge, just inside where the ring crosses it, lands on the edge behind the
/// crossing, and the ring runs along the edge there and back.
fn drop_spikes(points: &mut Vec<Coord<f64>>) {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(points.len());
    for &c in points.iter() {
        if out.last() == Some(&c) {
            continue;
        }
        out.push(c);
        while out.len() >= 3 && turns_back(out[out.len() - 3], out[out.len() - 2], out[out.len() - 1]) {
            let last = out.pop();
            out.pop();
            match last {
                Some(last) if out.last() != Some(&last) => out.push(last),
                _ => {}
            }
        }
    }
    // Where the ring closes, its last vertices meet its first.
    loop {
        let n = out.len();
        if (n >= 2 && out[0] == out[n - 1]) || (n >= 3 && turns_back(out[n - 2], out[n - 1], out[0])) {
            out.pop();
        } else if n >= 3 && turns_back(out[n - 1], out[0], out[1]) {
            out.remove(0);
        } else {
            break;
        }
    }
    *points = out;
}

/// Snaps a ring and orients it by its surveyor area: positive (clockwise on screen, y down) for
/// an exterior, negative for a hole. Rings of less than one square unit are dropped: they are
/// far below a pixel, and snapping can fold them into shapes of no clear orientation.
fn clean_ring(ls: &LineString<f64>, exterior: bool) -> Option<LineString<f64>> {
    let mut pts = snap(ls);
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    drop_spikes(&mut pts);
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    let area = surveyor_area(&pts);
    if area.abs() < 1.0 {
        return None;
    }
    if (area > 0.0) != exterior {
        pts.reverse();
    }
    Some(LineString(pts))
}

fn clean_polygons(mp: MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    let polygons: Vec<Polygon<f64>> =
        mp.0.iter()
            .filter_map(|p| {
                let exterior = clean_ring(p.exterior(), true)?;
                let holes = p.interiors().iter().filter_map(|h| clean_ring(h, false)).collect();
                Some(Polygon::new(exterior, holes))
            })
            .collect();
    (!polygons.is_empty()).then_some(MultiPolygon(polygons))
}

fn clean_lines(mls: MultiLineString<f64>) -> Option<MultiLineString<f64>> {
    let lines: Vec<LineString<f64>> = mls.0.iter().map(snap).filter(|p| p.len() >= 2).map(LineString).collect();
    (!lines.is_empty()).then_some(MultiLineString(lines))
}

/// Moves a unit-square geometry into the tile, clips, simplifies and cleans it; `simplified`
/// says the shape is already what simplifying it for this zoom gives (`Projected::simplified_at`),
/// so that only a shape the tile cuts is simplified again.
fn prepare(tile: TileCoord, g: &Geometry<f64>, simplified: bool) -> Option<Geometry<f64>> {
    use geo::{BoundingRect, MapCoords};
    let g = g.map_coords(|c| tile.to_tile(c.x, c.y));
    let rect = clip_rect();
    let inside = g.bounding_rect().is_some_and(|b| {
        b.min().x >= rect.min().x && b.min().y >= rect.min().y && b.max().x <= rect.max().x && b.max().y <= rect.max().y
    });
    match g {
        Geometry::Point(p) => {
            let c = p.0;
            let within = c.x >= rect.min().x && c.x <= rect.max().x && c.y >= rect.min().y && c.y <= rect.max().y;
            within.then(|| Geometry::Point(geo::Point::new(c.x.round(), c.y.round())))
        }
        Geometry::Polygon(p) => polygons(MultiPolygon(vec![p]), inside, simplified, &rect),
        Geometry::MultiPolygon(mp) => polygons(mp, inside, simplified, &rect),
        Geometry::LineString(ls) => lines(MultiLineString(vec![ls]), inside, simplified, &rect),
        Geometry::MultiLineString(mls) => lines(mls, inside, simplified, &rect),
        _ => None,
    }
}

fn polygons(mp: MultiPolygon<f64>, inside: bool, simplified: bool, rect: &Rect<f64>) -> Option<Geometry<f64>> {
    let shape = match (inside, simplified) {
        (true, true) => mp,
        (true, false) => mp.simplify(SIMPLIFY),
        // The cut changes a shape only along the tile's edge: one already simplified for this
        // zoom is not simplified again.
        (false, simplified) => match clipped_simply(&mp, rect) {
            Some(cut) if simplified => cut,
            Some(cut) => cut.simplify(SIMPLIFY),
            None => {
                let margin = Rect::new(
                    Coord { x: rect.min().x - BUFFER, y: rect.min().y - BUFFER },
                    Coord { x: rect.max().x + BUFFER, y: rect.max().y + BUFFER },
                );
                rect.to_polygon().intersection(&near_the_tile(&mp, &margin)).simplify(SIMPLIFY)
            }
        },
    };
    clean_polygons(shape).map(Geometry::MultiPolygon)
}

fn lines(mls: MultiLineString<f64>, inside: bool, simplified: bool, rect: &Rect<f64>) -> Option<Geometry<f64>> {
    let shape = match (inside, simplified) {
        (true, true) => mls,
        (true, false) => mls.simplify(SIMPLIFY),
        (false, _) => rect.to_polygon().clip(&mls, false).simplify(SIMPLIFY),
    };
    clean_lines(shape).map(Geometry::MultiLineString)
}

/// A stable numeric id from a UUID (its first 64 bits).
pub fn feature_id(id: &str) -> u64 {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).take(16).collect();
    u64::from_str_radix(&hex, 16).unwrap_or(0)
}

/// [`feature_id`] of an offer's identifier, read from its bits rather than from its text (the
/// first sixteen hexadecimal digits are its upper 64 bits).
fn offer_feature_id(id: uuid::Uuid) -> u64 {
    u64::try_from(id.as_u128() >> 64).unwrap_or(0)
}

fn offer_tags(tags: &mut TagsBuilder, feature: &mut tile::Feature, o: &OfferRecord, lang: Lang, website: &str) {
    let mut add = |k: &str, v: TileValue| {
        let (k, v) = tags.insert_ref(k, v);
        feature.tags.push(k);
        feature.tags.push(v);
    };
    add("id", TileValue::Str(o.id_string()));
    add("slug", TileValue::Str(o.slug.to_string()));
    add("name", TileValue::Str(o.name.get(lang).map(|(t, _)| t.to_owned()).unwrap_or_default()));
    add("kind", TileValue::Str(o.kind.code().to_owned()));
    add("themes", TileValue::Str(o.themes.join(",")));
    add("theme", TileValue::Str(o.themes.first().map(|t| t.to_string()).unwrap_or_default()));
    add("isTotem", TileValue::Bool(o.is_totem));
    add("url", TileValue::Str(format!("{website}/offres/{}", o.slug)));
    if let Some(c) = &o.commune {
        add("commune", TileValue::Str(c.to_string()));
    }
    if let Some(r) = &o.route {
        add("lengthMeters", TileValue::Double(r.length_meters));
        add("practices", TileValue::Str(r.practices.join(",")));
    }
}

/// Encodes the layers of a tile; an empty tile has no layer with features and encodes to nothing.
pub fn encode(
    catalog: &Catalog,
    layers: &[Layer],
    tile: TileCoord,
    lang: Lang,
    website: &str,
    outside: bool,
) -> Vec<u8> {
    let bounds = tile.buffered_bounds();
    let mut out = Tile::default();
    for layer in layers {
        let mut tags = TagsBuilder::new();
        let mut features = Vec::new();
        match layer {
            Layer::Communes => {
                for c in catalog.communes.iter().filter(|c| intersects(c.bbox, bounds)) {
                    let Some(g) = prepare(tile, c.mercator.at_zoom(tile.z), c.mercator.simplified_at(tile.z)) else {
                        continue;
                    };
                    let Ok(mut f) = g.to_mvt_unscaled() else { continue };
                    f.id = Some(c.insee.parse().unwrap_or_else(|_| feature_id(&c.insee)));
                    for (k, v) in [
                        ("code", TileValue::Str(c.insee.clone())),
                        ("name", TileValue::Str(c.name.clone())),
                        ("population", TileValue::Int(c.population)),
                    ] {
                        let (k, v) = tags.insert_ref(k, v);
                        f.tags.push(k);
                        f.tags.push(v);
                    }
                    features.push(f);
                }
            }
            _ => {
                for o in catalog.intersecting(bounds) {
                    if !layer.holds(o) || (!outside && !o.in_territory) {
                        continue;
                    }
                    let point;
                    let (g, simplified) = match layer {
                        Layer::Offers => {
                            let (x, y) = mercator::project(o.point[0], o.point[1]);
                            point = Geometry::Point(geo::Point::new(x, y));
                            (&point, false)
                        }
                        _ => match &o.mercator {
                            Some(g) => (g.at_zoom(tile.z), g.simplified_at(tile.z)),
                            None => continue,
                        },
                    };
                    let Some(g) = prepare(tile, g, simplified) else { continue };
                    let Ok(mut f) = g.to_mvt_unscaled() else { continue };
                    f.id = Some(offer_feature_id(o.id));
                    offer_tags(&mut tags, &mut f, o, lang, website);
                    features.push(f);
                }
            }
        }
        if features.is_empty() {
            continue;
        }
        let (keys, values) = tags.into_tags();
        out.layers.push(tile::Layer {
            version: 2,
            name: layer.name().to_owned(),
            features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        });
    }
    if out.layers.is_empty() { Vec::new() } else { out.encode_to_vec() }
}

fn intersects(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_feature_id_is_that_of_its_identifier_text() {
        let mut next = crate::testing::xorshift(7);
        for _ in 0..1000 {
            let mut half = || (next() * 2f64.powi(64)) as u64;
            let id = uuid::Uuid::from_u64_pair(half(), half());
            assert_eq!(offer_feature_id(id), feature_id(&id.hyphenated().to_string()), "{id}");
        }
        let id = uuid::Uuid::parse_str("0190c9a4-7b2e-7c3d-9e4f-a1b2c3d4e5f6").expect("uuid");
        assert_eq!(offer_feature_id(id), 0x0190_c9a4_7b2e_7c3d);
    }

    fn ring(points: &[(f64, f64)]) -> LineString<f64> {
        LineString::from(points.to_vec())
    }

    #[test]
    fn cutting_polygons_down_to_a_rectangle_keeps_what_lies_within() {
        use geo::Area;
        let r = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 10.0, y: 10.0 });
        let inside = ring(&[(1.0, 1.0), (4.0, 1.0), (4.0, 4.0), (1.0, 1.0)]);
        assert_eq!(ring_within(&inside, &r), inside.0, "a ring within is kept as it is");
        assert!(ring_within(&ring(&[(20.0, 20.0), (30.0, 20.0), (30.0, 30.0), (20.0, 20.0)]), &r).is_empty());
        // A ring around the rectangle leaves the rectangle.
        let around = ring(&[(-5.0, -5.0), (15.0, -5.0), (15.0, 15.0), (-5.0, 15.0), (-5.0, -5.0)]);
        let cut = Polygon::new(LineString(ring_within(&around, &r)), vec![]);
        assert_eq!(cut.unsigned_area(), 100.0);
        // A U whose arms cross the rectangle's top, and a hole across its side: the part within
        // the rectangle is the exact clip's, to the area.
        let u = Polygon::new(
            ring(&[
                (2.0, 2.0),
                (8.0, 2.0),
                (8.0, 14.0),
                (6.0, 14.0),
                (6.0, 5.0),
                (4.0, 5.0),
                (4.0, 14.0),
                (2.0, 14.0),
                (2.0, 2.0),
            ]),
            vec![],
        );
        let bar = Polygon::new(
            ring(&[(5.0, 0.5), (14.0, 0.5), (14.0, 1.8), (5.0, 1.8), (5.0, 0.5)]),
            vec![ring(&[(7.0, 0.8), (12.0, 0.8), (12.0, 1.2), (7.0, 1.2), (7.0, 0.8)])],
        );
        let shapes = MultiPolygon(vec![u, bar]);
        let near = near_the_tile(&shapes, &r);
        let small = Rect::new(Coord { x: 1.0, y: 1.0 }, Coord { x: 9.0, y: 9.0 });
        let exact = small.to_polygon().intersection(&shapes);
        let through = small.to_polygon().intersection(&near);
        assert!((exact.unsigned_area() - through.unsigned_area()).abs() < 1e-9);
        // The cut is exact; the boolean operation works on a grid of its own (to 1e-7 here).
        let whole = r.to_polygon().intersection(&shapes).unsigned_area();
        assert!((near.unsigned_area() - 43.3).abs() < 1e-12, "{near:?}");
        assert!((whole - 43.3).abs() < 1e-6, "{whole}");
    }

    #[test]
    fn rings_are_told_apart_by_how_they_lie_against_the_rectangle() {
        let r = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 10.0, y: 10.0 });
        let cases = [
            (vec![(1.0, 1.0), (4.0, 1.0), (4.0, 4.0), (1.0, 1.0)], Against::Within),
            (vec![(20.0, 20.0), (30.0, 20.0), (30.0, 30.0), (20.0, 20.0)], Against::Apart),
            (vec![(-5.0, -5.0), (15.0, -5.0), (15.0, 15.0), (-5.0, 15.0), (-5.0, -5.0)], Against::Apart),
            (vec![(5.0, 5.0), (15.0, 5.0), (15.0, 8.0), (5.0, 5.0)], Against::Crossed),
            // One segment through the rectangle, no vertex within.
            (vec![(-2.0, 5.0), (12.0, 5.0), (12.0, 20.0), (-2.0, 20.0), (-2.0, 5.0)], Against::Crossed),
            // A U whose two arms leave through the top.
            (
                vec![(2.0, 2.0), (8.0, 2.0), (8.0, 14.0), (6.0, 14.0), (6.0, 5.0), (4.0, 5.0), (4.0, 14.0), (2.0, 2.0)],
                Against::Crossed,
            ),
            // A vertex on a side, a segment along a side, a segment through a corner.
            (vec![(0.0, 5.0), (5.0, 5.0), (5.0, 8.0), (0.0, 5.0)], Against::Touching),
            (vec![(-2.0, 0.0), (12.0, 0.0), (12.0, -5.0), (-2.0, 0.0)], Against::Touching),
            (vec![(-5.0, 5.0), (5.0, 15.0), (-5.0, 15.0), (-5.0, 5.0)], Against::Touching),
        ];
        for (points, expected) in cases {
            assert_eq!(against(&ring(&points), &r), expected, "{points:?}");
        }
        // The U is cut into its two arms, with the corners of the rectangle they reach.
        let u =
            ring(&[(2.0, 2.0), (8.0, 2.0), (8.0, 14.0), (6.0, 14.0), (6.0, 5.0), (4.0, 5.0), (4.0, 14.0), (2.0, 14.0)]);
        let cut = clipped_simply(&MultiPolygon(vec![Polygon::new(u, vec![])]), &r).expect("cut");
        assert_eq!(cut.0.len(), 1, "one piece: the base joins the arms");
        assert_eq!(geo::Area::unsigned_area(&cut), 6.0 * 8.0 - 2.0 * 5.0);
        let zigzag = ring(&[
            (-1.0, 2.0),
            (5.0, 2.0),
            (5.0, 12.0),
            (7.0, 12.0),
            (7.0, 2.0),
            (11.0, 2.0),
            (11.0, 4.0),
            (9.0, 4.0),
            (9.0, 14.0),
            (3.0, 14.0),
            (3.0, 4.0),
            (-1.0, 4.0),
        ]);
        let cut = clipped_simply(&MultiPolygon(vec![Polygon::new(zigzag.clone(), vec![])]), &r).expect("cut");
        let exact = r.to_polygon().intersection(&MultiPolygon(vec![Polygon::new(zigzag, vec![])]));
        assert_eq!(cut.0.len(), exact.0.len(), "{cut:?} against {exact:?}");
        assert!(exact.0.len() > 1, "the rectangle cuts the zigzag in pieces: {exact:?}");
        assert!((geo::Area::unsigned_area(&cut) - geo::Area::unsigned_area(&exact)).abs() < 1e-6);
    }

    /// A star-shaped (so simple) ring of `n` vertices around `c`, radii in `[low, high)`.
    fn star(next: &mut impl FnMut() -> f64, c: Coord<f64>, n: usize, low: f64, high: f64) -> LineString<f64> {
        let mut points: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let angle = (i as f64 + 0.8 * next()) / n as f64 * std::f64::consts::TAU;
                let radius = low + (high - low) * next();
                (c.x + radius * angle.cos(), c.y + radius * angle.sin())
            })
            .collect();
        points.push(points[0]);
        ring(&points)
    }

    #[test]
    fn the_simple_clip_is_the_exact_clip_wherever_it_answers() {
        use geo::Area;
        let r = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 100.0, y: 100.0 });
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let (mut answered, mut declined, mut pieces) = (0, 0, 0);
        for _ in 0..3_000 {
            let c = Coord { x: -60.0 + 220.0 * next(), y: -60.0 + 220.0 * next() };
            let size = 5.0 + 150.0 * next();
            let n = 3 + (next() * 40.0) as usize;
            let exterior = star(&mut next, c, n, size * 0.6, size);
            // From eight vertices, no edge of the exterior comes nearer its centre than 0.45 of its size.
            let holes = if n >= 8 && next() < 0.5 {
                vec![star(&mut next, c, 3 + n / 2, size * 0.1, size * 0.4)]
            } else {
                vec![]
            };
            let shapes = MultiPolygon(vec![Polygon::new(exterior, holes)]);
            let Some(simple) = clipped_simply(&shapes, &r) else {
                declined += 1;
                continue;
            };
            answered += 1;
            pieces += usize::from(simple.0.len() > 1);
            let exact = r.to_polygon().intersection(&shapes);
            // The boolean operation rounds to a grid of its own: to about 1e-5 square units here.
            let tolerance = 1e-4 + 1e-6 * exact.unsigned_area();
            assert!(
                (simple.unsigned_area() - exact.unsigned_area()).abs() < tolerance,
                "{shapes:?}: {} against {}, {simple:?}, {exact:?}",
                simple.unsigned_area(),
                exact.unsigned_area()
            );
            assert!(simple.xor(&exact).unsigned_area() < tolerance, "{shapes:?}");
        }
        eprintln!("{answered} answered ({pieces} in pieces), {declined} declined");
        assert!(
            answered > 1_000 && pieces > 50 && declined > 100,
            "{answered} answered ({pieces} in pieces), {declined} declined"
        );
    }

    #[test]
    fn tile_addresses_are_checked() {
        assert!(TileCoord::new(0, 0, 0).is_ok());
        assert!(TileCoord::new(14, 8347, 5529).is_ok());
        assert!(TileCoord::new(2, 4, 0).is_err());
        assert!(TileCoord::new(23, 0, 0).is_err());
    }

    #[test]
    fn rings_come_out_clockwise_on_screen_without_closing_repeats() {
        // A counter-clockwise (on screen) square in tile units, with a repeated vertex.
        let ring = LineString::from(vec![
            (10.0, 10.0),
            (10.0, 100.0),
            (10.0, 100.0),
            (100.0, 100.0),
            (100.0, 10.0),
            (10.0, 10.0),
        ]);
        let mp = clean_polygons(MultiPolygon(vec![Polygon::new(ring, vec![])])).expect("kept");
        let p = &mp.0[0];
        assert!(surveyor_area(&p.exterior().0) > 0.0);
        assert_eq!(p.exterior().0.len(), 5, "the repeated vertex is gone");
    }

    #[test]
    fn a_ring_turning_straight_back_along_itself_loses_the_spike() {
        let spike = [(0.0, 0.0), (10.0, 0.0), (9.0, 0.0), (9.0, 5.0), (0.0, 5.0)];
        let mut points: Vec<Coord<f64>> = spike.iter().map(|&(x, y)| Coord { x, y }).collect();
        drop_spikes(&mut points);
        assert_eq!(points, [(0.0, 0.0), (9.0, 0.0), (9.0, 5.0), (0.0, 5.0)].map(|(x, y)| Coord { x, y }));
        // Across the closing vertex, and a spike going back exactly to where it came from.
        let mut points: Vec<Coord<f64>> =
            [(9.0, 0.0), (9.0, 5.0), (0.0, 5.0), (0.0, 0.0), (10.0, 0.0), (12.0, 0.0), (10.0, 0.0)]
                .map(|(x, y)| Coord { x, y })
                .to_vec();
        drop_spikes(&mut points);
        assert_eq!(points, [(9.0, 0.0), (9.0, 5.0), (0.0, 5.0), (0.0, 0.0)].map(|(x, y)| Coord { x, y }));
        let mut square: Vec<Coord<f64>> =
            [(0.0, 0.0), (5.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)].map(|(x, y)| Coord { x, y }).to_vec();
        let before = square.clone();
        drop_spikes(&mut square);
        assert_eq!(square, before, "a vertex on a straight side is no spike");
    }

    #[test]
    fn degenerate_rings_and_lines_are_dropped() {
        let flat = LineString::from(vec![(1.0, 1.0), (1.2, 1.1), (1.4, 0.9), (1.0, 1.0)]);
        assert!(clean_polygons(MultiPolygon(vec![Polygon::new(flat, vec![])])).is_none());
        let dot = LineString::from(vec![(5.1, 5.1), (5.2, 4.9)]);
        assert!(clean_lines(MultiLineString(vec![dot])).is_none());
    }
}
