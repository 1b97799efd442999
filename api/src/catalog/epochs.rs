//! Which cached tiles, layers and feeds a change makes stale. A snapshot keeps, for every tile
//! of zoom 0 to [`TRACKED_ZOOM`] that a change has touched, the version of the last change that
//! touched it (the old and the new extent of the changed offer, with the margin the tile encoder
//! reads); a deeper tile is judged by its ancestor at that zoom. A cached tile is keyed by that
//! *epoch*: a change elsewhere leaves its key, and its cached bytes, as they were.
//!
//! The epochs of a snapshot start at the version it was loaded at (what happened before is not
//! known to it): instances loaded at different versions may key an unchanged tile differently,
//! which costs a cache miss, never a stale tile.

use entities::domain::mercator::tiles_meeting;

use super::records::OfferRecord;

/// The deepest zoom tracked tile by tile.
pub const TRACKED_ZOOM: u8 = 16;
/// Past this many tiles of one zoom, a change marks the whole zoom instead.
const MAX_TILES_PER_ZOOM: u64 = 4096;
/// Past this many marks in all, the marks are folded into per-zoom floors (one cold map, once).
const MAX_MARKS: usize = 2_000_000;

/// The versions of the last changes of each layer of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerEpochs {
    /// Any public offer.
    pub offers: i64,
    /// Offers with a footprint (not routes).
    pub footprints: i64,
    /// Routes.
    pub routes: i64,
    /// Events (offers with occurrences).
    pub events: i64,
    /// Communes and themes.
    pub reference: i64,
}

/// The change history of a snapshot, by area and by layer.
#[derive(Debug, Clone)]
pub struct Epochs {
    floors: [i64; TRACKED_ZOOM as usize + 1],
    tiles: Vec<imbl::HashMap<u64, i64>>,
    marks: usize,
    /// By layer.
    pub layers: LayerEpochs,
}

fn pack(x: u32, y: u32) -> u64 {
    (u64::from(x) << 32) | u64::from(y)
}

impl Epochs {
    /// The history of a snapshot loaded at `version`.
    pub fn new(version: i64) -> Epochs {
        Epochs {
            floors: [version; TRACKED_ZOOM as usize + 1],
            tiles: vec![imbl::HashMap::new(); TRACKED_ZOOM as usize + 1],
            marks: 0,
            layers: LayerEpochs {
                offers: version,
                footprints: version,
                routes: version,
                events: version,
                reference: version,
            },
        }
    }

    /// Marks every tile an extent reaches as changed at `version`.
    pub fn mark_extent(&mut self, bbox: [f64; 4], version: i64) {
        for z in 0..=TRACKED_ZOOM {
            let ([x0, x1], [y0, y1]) = tiles_meeting(bbox, z);
            let count = u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1);
            let zi = usize::from(z);
            if count > MAX_TILES_PER_ZOOM {
                self.floors[zi] = self.floors[zi].max(version);
                continue;
            }
            for x in x0..=x1 {
                for y in y0..=y1 {
                    if self.tiles[zi].insert(pack(x, y), version).is_none() {
                        self.marks += 1;
                    }
                }
            }
        }
        if self.marks > MAX_MARKS {
            for z in 0..=usize::from(TRACKED_ZOOM) {
                let newest = self.tiles[z].values().copied().max().unwrap_or(self.floors[z]);
                self.floors[z] = self.floors[z].max(newest);
                self.tiles[z] = imbl::HashMap::new();
            }
            self.marks = 0;
        }
    }

    /// Notes a change of an offer, from what it was in the catalog to what it is (either may be
    /// absent: published, withdrawn).
    pub fn note(&mut self, old: Option<&OfferRecord>, new: Option<&OfferRecord>, version: i64) {
        for o in [old, new].into_iter().flatten() {
            self.mark_extent(o.bbox, version);
            self.layers.offers = version;
            if o.is_footprint() {
                self.layers.footprints = version;
            }
            if o.is_route() {
                self.layers.routes = version;
            }
            if !o.occurrences.is_empty() {
                self.layers.events = version;
            }
        }
    }

    /// The version of the last change that touched a tile (its key in caches).
    pub fn tile(&self, z: u8, x: u32, y: u32) -> i64 {
        let (zt, xt, yt) = if z > TRACKED_ZOOM {
            let shift = z - TRACKED_ZOOM;
            (TRACKED_ZOOM, x >> shift, y >> shift)
        } else {
            (z, x, y)
        };
        let zi = usize::from(zt);
        let mark = self.tiles[zi].get(&pack(xt, yt)).copied().unwrap_or(i64::MIN);
        self.floors[zi].max(mark).max(self.layers.reference)
    }

    /// Marks held (for metrics).
    pub fn marks(&self) -> usize {
        self.marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_dates_the_tiles_over_it_and_no_other() {
        let mut e = Epochs::new(10);
        // The Fosse d'Arenberg, at z14 in tile 8347/5529.
        e.mark_extent([3.4265, 50.3836, 3.4265, 50.3836], 11);
        assert_eq!(e.tile(14, 8347, 5529), 11);
        assert_eq!(e.tile(14, 8300, 5500), 10, "a tile far away keeps its epoch");
        let (x, y) = entities::domain::mercator::project(3.4265, 50.3836);
        let n = f64::from(1u32 << 18);
        assert_eq!(e.tile(18, (x * n) as u32, (y * n) as u32), 11, "deeper tiles follow their z16 ancestor");
        assert_eq!(e.tile(0, 0, 0), 11);
        // A huge extent marks whole zooms rather than millions of tiles.
        e.mark_extent([-10.0, 40.0, 20.0, 60.0], 12);
        assert_eq!(e.tile(16, 0, 0), 12);
        assert!(e.marks() < 10_000, "{}", e.marks());
    }
}
