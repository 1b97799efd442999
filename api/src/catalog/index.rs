//! The spatial and text indexes of a snapshot, changed offer by offer without copying them.
//!
//! A *base* built in bulk (two R-trees — bounding boxes in degrees for areas, points on the unit
//! sphere for distances — and an inverted text index) is shared by every snapshot built on it;
//! each snapshot adds a small persistent *overlay* of the offers changed since (their new entry,
//! or none when they left the catalog). A query reads the base, skips what the overlay replaced,
//! and adds the overlay's matches. When the overlay grows past [`COMPACT_AT`] entries a new base
//! is built off the write path and the changes made meanwhile are carried over to it.
//!
//! Points are indexed as unit vectors: the straight-line (chord) distance between two of them
//! grows with the great-circle distance, so the R-tree's nearest-neighbour order is the order
//! of distance on the ground, and `near` reads only the nearest offers instead of all of them.
//!
//! Hand-written because the needs are small (a few hundred thousand short texts, in memory) and
//! an engine such as tantivy would double the build for what an inverted index does here.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use entities::domain::text::tokens;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, ParentNode, RTree, RTreeNode};
use uuid::Uuid;

use super::records::{OfferRecord, boxes_meet, point_inside};

/// Overlay entries past which a new base is built.
pub const COMPACT_AT: usize = 4096;
/// Mean Earth radius in metres, as `geo`'s haversine uses it.
const EARTH_RADIUS: f64 = 6_371_008.8;
/// Weight of a word in a name, against 1 in a description.
const NAME_WEIGHT: f32 = 4.0;

/// What the indexes know of one offer.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Bounding box (west, south, east, north).
    pub bbox: [f64; 4],
    /// Representative point (lon, lat).
    pub point: [f64; 2],
    /// Its words with their weight (names count more), each once.
    pub words: Vec<(Box<str>, f32)>,
    /// Words in its shortest name: among equal matches, a shorter name is a closer match.
    pub name_len: u8,
}

impl Entry {
    /// The entry of a record.
    pub fn of(o: &OfferRecord) -> Entry {
        let mut words: Vec<(String, f32)> = Vec::new();
        let mut name_len = usize::MAX;
        for t in o.name.values() {
            let w = tokens(t);
            name_len = name_len.min(w.len());
            words.extend(w.into_iter().map(|w| (w, NAME_WEIGHT)));
        }
        for t in o.short_description.values().chain(o.description.values()) {
            words.extend(tokens(t).into_iter().map(|w| (w, 1.0)));
        }
        // Each word once, in order, with its greatest weight (a word of the name weighs as one).
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        words.dedup_by(|later, kept| later.0 == kept.0);
        Entry {
            bbox: o.bbox,
            point: o.point,
            words: words.into_iter().map(|(w, s)| (w.into_boxed_str(), s)).collect(),
            name_len: u8::try_from(name_len.min(64)).unwrap_or(64),
        }
    }
}

/// The documents a word is in, with its weight in each.
type Postings = Vec<(u32, f32)>;

/// The posting lists in a sorted map, each shrunk to its length (lists grown by pushing hold up to
/// twice theirs). Sorted here without keeping order among equal keys (there are none), so the
/// map's own stable sort finds them in order.
fn sorted_postings<S>(postings: HashMap<Box<str>, Postings, S>) -> BTreeMap<Box<str>, Postings> {
    let mut lists: Vec<(Box<str>, Postings)> = postings
        .into_iter()
        .map(|(w, mut docs)| {
            docs.shrink_to_fit();
            (w, docs)
        })
        .collect();
    lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    lists.into_iter().collect()
}

/// A point on the unit sphere.
fn unit_vector(p: [f64; 2]) -> [f64; 3] {
    let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The squared chord of a distance on the ground.
fn chord2(meters: f64) -> f64 {
    let c = 2.0 * (meters / (2.0 * EARTH_RADIUS)).min(std::f64::consts::FRAC_PI_2).sin();
    c * c
}

/// The distance in metres between two points (haversine, as `geo` computes it).
pub fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
}

/// An index built in bulk, shared by the snapshots built on it.
struct Base {
    /// The catalog version it reflects.
    version: i64,
    /// The offer of each document, in the order of their ids.
    docs: Vec<Uuid>,
    doc_points: Vec<[f64; 2]>,
    boxes: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    points: RTree<GeomWithData<[f64; 3], u32>>,
    /// The points under each inner node of `points` but its root, by the node's address (the
    /// nodes live on the heap and the tree never changes): a subtree inside a circle counts in
    /// one look-up instead of a walk down to its leaves.
    sizes: Sizes,
    postings: BTreeMap<Box<str>, Vec<(u32, f32)>>,
    name_lens: Vec<u8>,
}

impl Base {
    /// A base of documents numbered in the order of their ids, with their points, bounding
    /// boxes, posting lists and name lengths: the R-trees are loaded here.
    fn assemble(
        version: i64,
        docs: Vec<Uuid>,
        doc_points: Vec<[f64; 2]>,
        boxes: &[[f64; 4]],
        postings: BTreeMap<Box<str>, Postings>,
        name_lens: Vec<u8>,
    ) -> Base {
        let boxes = boxes
            .iter()
            .zip(0u32..)
            .map(|(b, d)| GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), d))
            .collect();
        let points = RTree::bulk_load(
            doc_points.iter().zip(0u32..).map(|(p, d)| GeomWithData::new(unit_vector(*p), d)).collect(),
        );
        let mut sizes = Sizes::default();
        for child in points.root().children() {
            if let RTreeNode::Parent(p) = child {
                sizes.record(p);
            }
        }
        Base { version, docs, doc_points, boxes: RTree::bulk_load(boxes), points, sizes, postings, name_lens }
    }
}

/// The documents of two lists sorted by document, none in both, in one list so sorted.
fn merged(a: impl Iterator<Item = (u32, f32)>, b: Postings) -> Postings {
    let mut out = Vec::with_capacity(b.len());
    let mut b = b.into_iter().peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| y.0 < x.0) {
            out.push(y);
        }
        out.push(x);
    }
    out.extend(b);
    out
}

/// The indexes of a snapshot: a shared base and the overlay of what changed since.
#[derive(Clone)]
pub struct Index {
    base: Arc<Base>,
    /// Offers changed since the base: their entry (none when they left), and the version.
    overlay: imbl::HashMap<Uuid, (Option<Arc<Entry>>, i64)>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("base_version", &self.base.version)
            .field("base_docs", &self.base.docs.len())
            .field("overlay", &self.overlay.len())
            .finish()
    }
}

impl Index {
    /// Builds a base from every entry of a snapshot at `version`.
    pub fn build(version: i64, entries: impl Iterator<Item = (Uuid, Entry)>) -> Index {
        Index::build_from(version, entries.collect(), std::convert::identity)
    }

    /// Builds a base from every item of a snapshot at `version`, making each item's entry only
    /// when it is indexed: the words of 500,000 entries made all at once were 700 MB that the
    /// process kept.
    pub fn build_from<T>(version: i64, mut items: Vec<(Uuid, T)>, entry: impl Fn(T) -> Entry) -> Index {
        let mut docs = Vec::with_capacity(items.len());
        let mut doc_points = Vec::with_capacity(items.len());
        let mut boxes = Vec::with_capacity(items.len());
        // Gathered by hashing, ordered once at the end: a sorted map paid a string comparison per
        // level for each of millions of words (3.6 s of a 500,000-offer start-up).
        let mut postings: HashMap<Box<str>, Vec<(u32, f32)>, foldhash::fast::FixedState> = HashMap::default();
        let mut name_lens = Vec::with_capacity(items.len());
        // Documents are numbered in the order of their ids, so an id finds its document by
        // binary search (counting what the overlay replaced, `count_within`).
        items.sort_unstable_by_key(|(id, _)| *id);
        for (id, item) in items {
            let e = entry(item);
            let d = u32::try_from(docs.len()).unwrap_or(u32::MAX);
            docs.push(id);
            doc_points.push(e.point);
            boxes.push(e.bbox);
            for (w, s) in e.words {
                postings.entry(w).or_default().push((d, s));
            }
            name_lens.push(e.name_len);
        }
        let base = Base::assemble(version, docs, doc_points, &boxes, sorted_postings(postings), name_lens);
        Index { base: Arc::new(base), overlay: imbl::HashMap::new() }
    }

    /// A new base holding what this index holds (its base with the overlay applied), at
    /// `version`, with no overlay. Made from the base's own arrays and posting lists and the
    /// overlay's entries: no text is read again, where [`Index::build_from`] tokenizes every
    /// offer's texts (most of the time a catalog of 500,000 offers took to compact, once per
    /// [`COMPACT_AT`] changes). It equals the base `build_from` makes of the same entries.
    pub fn compacted(&self, version: i64) -> Index {
        let old = &*self.base;
        let mut extra: Vec<(Uuid, &Entry)> = self.live_overlay().collect();
        extra.sort_unstable_by_key(|(id, _)| *id);
        let mut old_boxes = vec![[0.0; 4]; old.docs.len()];
        for b in old.boxes.iter() {
            let [lo, hi] = [b.geom().lower(), b.geom().upper()];
            old_boxes[b.data as usize] = [lo[0], lo[1], hi[0], hi[1]];
        }
        // The documents kept and the overlay's, merged in the order of their ids and numbered
        // anew; `renumbered` gives a kept document its new number.
        let size = old.docs.len() + extra.len();
        let (mut docs, mut doc_points, mut boxes, mut name_lens) =
            (Vec::with_capacity(size), Vec::with_capacity(size), Vec::with_capacity(size), Vec::with_capacity(size));
        let mut renumbered = vec![u32::MAX; old.docs.len()];
        let mut added: HashMap<&str, Vec<(u32, f32)>, foldhash::fast::FixedState> = HashMap::default();
        let (mut i, mut extra) = (0, extra.into_iter().peekable());
        loop {
            let next_d = u32::try_from(docs.len()).unwrap_or(u32::MAX);
            let take_old = match (old.docs.get(i), extra.peek()) {
                (Some(id), Some((e, _))) => id < e,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_old {
                let id = old.docs[i];
                if !self.overlay.contains_key(&id) {
                    renumbered[i] = next_d;
                    docs.push(id);
                    doc_points.push(old.doc_points[i]);
                    boxes.push(old_boxes[i]);
                    name_lens.push(old.name_lens[i]);
                }
                i += 1;
            } else if let Some((id, e)) = extra.next() {
                docs.push(id);
                doc_points.push(e.point);
                boxes.push(e.bbox);
                name_lens.push(e.name_len);
                for (w, s) in &e.words {
                    added.entry(&**w).or_default().push((next_d, *s));
                }
            }
        }
        // Each list renumbered (its order kept: the numbering keeps the order of ids), then the
        // overlay's documents merged in.
        let mut lists: Vec<(Box<str>, Postings)> = Vec::with_capacity(old.postings.len() + added.len());
        for (w, docs) in &old.postings {
            let kept = docs.iter().filter_map(|(d, s)| {
                let d = renumbered[*d as usize];
                (d != u32::MAX).then_some((d, *s))
            });
            let list: Postings = match added.remove(&**w) {
                Some(more) => merged(kept, more),
                None => kept.collect(),
            };
            if !list.is_empty() {
                lists.push((w.clone(), list));
            }
        }
        lists.extend(added.into_iter().map(|(w, docs)| (Box::from(w), docs)));
        lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let postings = lists
            .into_iter()
            .map(|(w, mut docs)| {
                docs.shrink_to_fit();
                (w, docs)
            })
            .collect();
        let base = Base::assemble(version, docs, doc_points, &boxes, postings, name_lens);
        Index { base: Arc::new(base), overlay: imbl::HashMap::new() }
    }

    /// Records an offer's new entry (or its leaving) at `version`.
    pub fn set(&mut self, id: Uuid, entry: Option<Entry>, version: i64) {
        self.overlay.insert(id, (entry.map(Arc::new), version));
    }

    /// Whether the overlay is large enough for a new base to pay.
    pub fn needs_compaction(&self) -> bool {
        self.overlay.len() > COMPACT_AT
    }

    /// The version of the base.
    pub fn base_version(&self) -> i64 {
        self.base.version
    }

    /// Moves onto `fresh` (a base built from the snapshot at its version), keeping the changes
    /// made after that version.
    pub fn rebase(&self, fresh: Index) -> Index {
        let v = fresh.base.version;
        let overlay = self.overlay.iter().filter(|(_, (_, at))| *at > v).map(|(k, e)| (*k, e.clone())).collect();
        Index { base: fresh.base, overlay }
    }

    fn replaced(&self, d: u32) -> bool {
        // Most snapshots have a small overlay or none: skip hashing then.
        !self.overlay.is_empty() && self.overlay.contains_key(&self.base.docs[d as usize])
    }

    fn live_overlay(&self) -> impl Iterator<Item = (Uuid, &Entry)> {
        self.overlay.iter().filter_map(|(id, (e, _))| e.as_deref().map(|e| (*id, e)))
    }

    /// Offers whose bounding box meets `bbox`, sorted by id.
    pub fn intersecting(&self, bbox: [f64; 4]) -> Vec<Uuid> {
        let env = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut out: Vec<Uuid> = self
            .base
            .boxes
            .locate_in_envelope_intersecting(&env)
            .filter(|b| !self.replaced(b.data))
            .map(|b| self.base.docs[b.data as usize])
            .collect();
        out.extend(self.live_overlay().filter(|(_, e)| boxes_meet(e.bbox, bbox)).map(|(id, _)| id));
        out.sort_unstable();
        out
    }

    /// Offers whose point lies in `bbox`, sorted by id.
    pub fn points_in(&self, bbox: [f64; 4]) -> Vec<Uuid> {
        let env = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut out: Vec<Uuid> = self
            .base
            .boxes
            .locate_in_envelope_intersecting(&env)
            .filter(|b| !self.replaced(b.data) && point_inside(self.base.doc_points[b.data as usize], bbox))
            .map(|b| self.base.docs[b.data as usize])
            .collect();
        out.extend(self.live_overlay().filter(|(_, e)| point_inside(e.point, bbox)).map(|(id, _)| id));
        out.sort_unstable();
        out
    }

    /// Offers within `radius` metres of a point, in no particular order: the same offers as
    /// [`Index::nearest`] gives (to the same rounding). The reference `count_within` is tested
    /// against: it visits every point of the circle.
    #[cfg(test)]
    pub fn within(&self, center: [f64; 2], radius: f64) -> impl Iterator<Item = Uuid> + '_ {
        let circle = Circle::new(center, radius);
        let base = self
            .base
            .points
            .locate_within_distance(circle.c, circle.limit)
            .filter(move |p| !self.replaced(p.data))
            .filter(move |p| circle.holds(*p.geom(), self.base.doc_points[p.data as usize]))
            .map(move |p| self.base.docs[p.data as usize]);
        let extra = self.live_overlay().filter(move |(_, e)| distance(center, e.point) <= radius).map(|(id, _)| id);
        base.chain(extra)
    }

    /// How many offers lie within `radius` metres of a point (what `nearest` would give, to the
    /// same rounding), without visiting each: a subtree of the R-tree wholly inside the circle
    /// counts its points by reading only its inner nodes, and only the points of nodes across
    /// the edge are measured.
    pub fn count_within(&self, center: [f64; 2], radius: f64) -> usize {
        let circle = Circle::new(center, radius);
        let mut n = circle.count(self.base.points.root(), &self.base.doc_points, &self.base.sizes);
        // The base's documents the overlay replaced or removed no longer count; its entries do.
        for (id, (entry, _)) in self.overlay.iter() {
            if let Ok(d) = self.base.docs.binary_search(id) {
                let point = self.base.doc_points[d];
                n -= usize::from(circle.holds(unit_vector(point), point));
            }
            if let Some(e) = entry {
                n += usize::from(distance(center, e.point) <= radius);
            }
        }
        n
    }

    /// Offers within `radius` metres of a point, nearest first, with their distance; read lazily
    /// so a page of the nearest costs only that page.
    pub fn nearest(&self, center: [f64; 2], radius: f64) -> impl Iterator<Item = (Uuid, f64)> + '_ {
        let c = unit_vector(center);
        let limit = chord2(radius);
        let mut extra: Vec<(Uuid, f64)> =
            self.live_overlay().map(|(id, e)| (id, distance(center, e.point))).filter(|(_, d)| *d <= radius).collect();
        extra.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let base = self
            .base
            .points
            .nearest_neighbor_iter_with_distance_2(&c)
            .take_while(move |(_, d2)| *d2 <= limit * (1.0 + 1e-9))
            .filter(|(p, _)| !self.replaced(p.data))
            // The same metres as everywhere else (the chord orders, the haversine measures).
            .map(move |(p, _)| {
                (self.base.docs[p.data as usize], distance(center, self.base.doc_points[p.data as usize]))
            });
        Merge {
            a: TiesById { inner: base.peekable(), run: Vec::new().into_iter() }.peekable(),
            b: extra.into_iter().peekable(),
        }
    }

    /// Documents holding every word of the query (the last one as a prefix), with a score.
    pub fn search(&self, query: &str) -> Vec<(Uuid, f32)> {
        let words = tokens(query);
        let Some(last) = words.last() else { return Vec::new() };
        // Postings are sorted by document (built in document order), so the words' documents
        // are intersected by merging sorted lists, without hashing a document per posting.
        let mut scores: Option<Vec<(u32, f32)>> = None;
        for (i, word) in words.iter().enumerate() {
            let hits: Vec<(u32, f32)> = if i == words.len() - 1 {
                let from = (std::ops::Bound::Included(word.as_str()), std::ops::Bound::Unbounded);
                let mut hits = Vec::new();
                for (w, docs) in
                    self.base.postings.range::<str, _>(from).take_while(|(w, _)| w.starts_with(last.as_str()))
                {
                    // An exact word counts more than a word it merely begins.
                    let factor = if &**w == word.as_str() { 1.0 } else { 0.6 };
                    hits.extend(docs.iter().map(|(d, weight)| (*d, weight * factor)));
                }
                hits.sort_unstable_by_key(|(d, _)| *d);
                // A document under several words of the prefix keeps its best.
                hits.dedup_by(|next, kept| {
                    let same = next.0 == kept.0;
                    if same {
                        kept.1 = kept.1.max(next.1);
                    }
                    same
                });
                hits
            } else {
                self.base.postings.get(word.as_str()).cloned().unwrap_or_default()
            };
            scores = Some(match scores {
                None => hits,
                Some(prev) => intersect_summing(&prev, &hits),
            });
        }
        let mut out: Vec<(Uuid, f32)> = scores
            .unwrap_or_default()
            .into_iter()
            .filter(|(d, _)| !self.replaced(*d))
            .map(|(d, s)| (self.base.docs[d as usize], s + 1.0 / (1.0 + f32::from(self.base.name_lens[d as usize]))))
            .collect();
        for (id, e) in self.live_overlay() {
            if let Some(s) = score(&words, e) {
                out.push((id, s + 1.0 / (1.0 + f32::from(e.name_len))));
            }
        }
        out
    }

    /// Every offer's entry as the index sees it, sorted by id (for digests).
    pub fn entries(&self) -> Vec<(Uuid, Entry)> {
        let mut out: BTreeMap<Uuid, Entry> = BTreeMap::new();
        let mut words: HashMap<u32, Vec<(Box<str>, f32)>> = HashMap::new();
        for (w, docs) in &self.base.postings {
            for (d, s) in docs {
                words.entry(*d).or_default().push((w.clone(), *s));
            }
        }
        for b in self.base.boxes.iter() {
            if self.replaced(b.data) {
                continue;
            }
            let d = b.data as usize;
            let [lo, hi] = [b.geom().lower(), b.geom().upper()];
            let mut ws = words.remove(&b.data).unwrap_or_default();
            ws.sort_by(|a, b| a.0.cmp(&b.0));
            out.insert(
                self.base.docs[d],
                Entry {
                    bbox: [lo[0], lo[1], hi[0], hi[1]],
                    point: self.base.doc_points[d],
                    words: ws,
                    name_len: self.base.name_lens[d],
                },
            );
        }
        for (id, e) in self.live_overlay() {
            out.insert(id, e.clone());
        }
        out.into_iter().collect()
    }

    /// How many offers the base and the overlay hold (for metrics).
    pub fn sizes(&self) -> (usize, usize) {
        (self.base.docs.len(), self.overlay.len())
    }
}

/// The documents of both sorted lists, with the sum of their scores.
fn intersect_summing(a: &[(u32, f32)], b: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((x.0, x.1 + y.1));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// A document's score for the query words, as [`Index::search`] computes it from postings.
fn score(words: &[String], e: &Entry) -> Option<f32> {
    let last = words.len().checked_sub(1)?;
    let mut total = 0.0;
    for (i, word) in words.iter().enumerate() {
        let best = e
            .words
            .iter()
            .filter_map(|(w, s)| {
                if &**w == word.as_str() {
                    Some(*s)
                } else if i == last && w.starts_with(word.as_str()) {
                    Some(s * 0.6)
                } else {
                    None
                }
            })
            .fold(None, |acc: Option<f32>, s| Some(acc.map_or(s, |a| a.max(s))))?;
        total += best;
    }
    Some(total)
}

/// A circle on the ground as the points' R-tree sees it: a ball around the centre's unit vector.
#[derive(Clone, Copy)]
struct Circle {
    center: [f64; 2],
    c: [f64; 3],
    /// The radius with the rounding margin every distance comparison allows.
    exact: f64,
    /// Squared chord of the radius (with the margin): nothing farther is inside.
    limit: f64,
    /// Squared chord clearly inside the radius: nothing nearer needs measuring.
    surely_inside: f64,
}

impl Circle {
    fn new(center: [f64; 2], radius: f64) -> Circle {
        let chord = chord2(radius);
        Circle {
            center,
            c: unit_vector(center),
            exact: radius * (1.0 + 1e-9),
            limit: chord * (1.0 + 1e-9),
            surely_inside: chord * (1.0 - 1e-6),
        }
    }

    /// Whether a point is inside: its chord clearly inside, else its distance on the ground (the
    /// chord grows with the distance: only the points near the edge pay the haversine).
    fn holds(&self, q: [f64; 3], point: [f64; 2]) -> bool {
        let d2 = (q[0] - self.c[0]).powi(2) + (q[1] - self.c[1]).powi(2) + (q[2] - self.c[2]).powi(2);
        d2 <= self.limit && (d2 <= self.surely_inside || distance(self.center, point) <= self.exact)
    }

    /// The points of a subtree inside the circle.
    fn count(&self, node: &ParentNode<GeomWithData<[f64; 3], u32>>, points: &[[f64; 2]], sizes: &Sizes) -> usize {
        node.children()
            .iter()
            .map(|child| match child {
                RTreeNode::Leaf(p) => usize::from(self.holds(*p.geom(), points[p.data as usize])),
                RTreeNode::Parent(inner) => {
                    let env = inner.envelope();
                    if env.distance_2(&self.c) > self.limit {
                        0
                    } else if farthest2(&env, self.c) <= self.surely_inside {
                        sizes.of(inner)
                    } else {
                        self.count(inner, points, sizes)
                    }
                }
            })
            .sum()
    }
}

/// The squared distance from a point to the farthest corner of a box.
fn farthest2(env: &AABB<[f64; 3]>, c: [f64; 3]) -> f64 {
    let (lo, hi) = (env.lower(), env.upper());
    (0..3).map(|i| (c[i] - lo[i]).abs().max((hi[i] - c[i]).abs()).powi(2)).sum()
}

/// Whether a node's children are points (an R-tree's nodes hold either points or nodes).
fn right_above_points<T: rstar::RTreeObject>(node: &ParentNode<T>) -> bool {
    !matches!(node.children().first(), Some(RTreeNode::Parent(_)))
}

/// The number of points under each inner node of a tree that never changes, keyed by the node's
/// address. Nodes right above the points (most of them) are not recorded: their size is their
/// number of children, read without a look-up.
#[derive(Default)]
struct Sizes(HashMap<usize, u32, foldhash::fast::FixedState>);

impl Sizes {
    /// Records a node and every inner node below it; returns the points it holds.
    fn record<T: rstar::RTreeObject>(&mut self, node: &ParentNode<T>) -> u32 {
        if right_above_points(node) {
            return u32::try_from(node.children().len()).unwrap_or(u32::MAX);
        }
        let n = node
            .children()
            .iter()
            .map(|c| match c {
                RTreeNode::Parent(p) => self.record(p),
                RTreeNode::Leaf(_) => 1,
            })
            .sum();
        self.0.insert(std::ptr::from_ref(node) as usize, n);
        n
    }

    /// The points under a node recorded by [`Sizes::record`] (counted from its leaves if not).
    fn of<T: rstar::RTreeObject>(&self, node: &ParentNode<T>) -> usize {
        if right_above_points(node) {
            return node.children().len();
        }
        match self.0.get(&(std::ptr::from_ref(node) as usize)) {
            Some(n) => *n as usize,
            None => node.children().iter().map(|c| if let RTreeNode::Parent(p) = c { self.of(p) } else { 1 }).sum(),
        }
    }
}

/// The R-tree yields points at the same distance in no set order (several offers at one commune
/// point): each run of equal distances comes out by id, the order cursors resume in.
struct TiesById<I: Iterator<Item = (Uuid, f64)>> {
    inner: std::iter::Peekable<I>,
    run: std::vec::IntoIter<(Uuid, f64)>,
}

impl<I: Iterator<Item = (Uuid, f64)>> Iterator for TiesById<I> {
    type Item = (Uuid, f64);

    fn next(&mut self) -> Option<(Uuid, f64)> {
        if let Some(x) = self.run.next() {
            return Some(x);
        }
        let first = self.inner.next()?;
        if self.inner.peek().is_none_or(|n| n.1 != first.1) {
            return Some(first);
        }
        let mut run = vec![first];
        while let Some(n) = self.inner.next_if(|n| n.1 == first.1) {
            run.push(n);
        }
        run.sort_by_key(|x| x.0);
        self.run = run.into_iter();
        self.run.next()
    }
}

/// Two streams sorted by distance, merged.
struct Merge<A: Iterator<Item = (Uuid, f64)>, B: Iterator<Item = (Uuid, f64)>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = (Uuid, f64)>, B: Iterator<Item = (Uuid, f64)>> Iterator for Merge<A, B> {
    type Item = (Uuid, f64);

    fn next(&mut self) -> Option<(Uuid, f64)> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) => {
                if x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)) != Ordering::Greater {
                    self.a.next()
                } else {
                    self.b.next()
                }
            }
            (Some(_), None) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, body: &str, point: [f64; 2]) -> Entry {
        let mut words: BTreeMap<String, f32> = BTreeMap::new();
        for w in tokens(name) {
            words.insert(w, NAME_WEIGHT);
        }
        for w in tokens(body) {
            words.entry(w).or_insert(1.0);
        }
        Entry {
            bbox: [point[0], point[1], point[0], point[1]],
            point,
            words: words.into_iter().map(|(w, s)| (w.into_boxed_str(), s)).collect(),
            name_len: u8::try_from(tokens(name).len()).unwrap_or(64),
        }
    }

    fn ids(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn the_overlay_replaces_the_base_and_searches_as_the_base_would() {
        let base = Index::build(
            1,
            vec![
                (ids(1), entry("musée de la Tour abbatiale", "", [3.43, 50.45])),
                (ids(2), entry("Église Sainte-Barbe", "Près de la tour du chevalement", [3.42, 50.38])),
                (ids(3), entry("Abbaye", "", [3.40, 50.40])),
            ]
            .into_iter(),
        );
        let rebuilt = |entries: Vec<(Uuid, Entry)>| Index::build(2, entries.into_iter());
        let mut changed = base.clone();
        changed.set(ids(2), None, 2);
        changed.set(ids(4), Some(entry("Tour de guet", "", [3.41, 50.39])), 2);
        let reference = rebuilt(vec![
            (ids(1), entry("musée de la Tour abbatiale", "", [3.43, 50.45])),
            (ids(3), entry("Abbaye", "", [3.40, 50.40])),
            (ids(4), entry("Tour de guet", "", [3.41, 50.39])),
        ]);
        let sorted = |mut v: Vec<(Uuid, f32)>| {
            v.sort_by_key(|a| a.0);
            v
        };
        for q in ["tour", "TOUR-ABBATIALE", "ab", "eglise", "gue"] {
            assert_eq!(sorted(changed.search(q)), sorted(reference.search(q)), "{q}");
        }
        assert_eq!(changed.intersecting([3.0, 50.0, 4.0, 51.0]), reference.intersecting([3.0, 50.0, 4.0, 51.0]));
        let near: Vec<Uuid> = changed.nearest([3.42, 50.39], 10_000.0).map(|(id, _)| id).collect();
        let expect: Vec<Uuid> = reference.nearest([3.42, 50.39], 10_000.0).map(|(id, _)| id).collect();
        assert_eq!(near, expect);
        assert_eq!(changed.entries(), reference.entries());
        // After a new base, the changes made since it are kept.
        let mut later = changed.clone();
        later.set(ids(3), None, 3);
        let rebased = later.rebase(reference.clone());
        assert_eq!(rebased.entries().len(), 2);
    }

    #[test]
    fn a_compacted_index_is_the_base_a_build_of_its_entries_makes() {
        // 3,000 offers with words from a small vocabulary (shared posting lists), then a third of
        // them removed, moved or renamed and 500 new ones, twice (an overlay over an overlay).
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let vocabulary = ["tour", "terril", "cité", "minière", "abbaye", "étang", "forêt", "thermes", "vélo", "pavés"];
        let mut offer = |tag: &str| {
            let mut pick = || vocabulary[(next() * vocabulary.len() as f64) as usize % vocabulary.len()];
            let (a, b, c) = (pick(), pick(), pick());
            let at = [3.2 + next() * 0.4, 50.3 + next() * 0.2];
            entry(&format!("{a} {b} {tag}"), &format!("{c} {a}"), at)
        };
        let mut current: BTreeMap<Uuid, Entry> = (0..3_000u128).map(|i| (ids(i), offer("base"))).collect();
        let mut index = Index::build(1, current.clone().into_iter());
        for round in 0..2u128 {
            for i in (round..3_000).step_by(3) {
                let change = if i % 2 == 0 { None } else { Some(offer("changed")) };
                match &change {
                    Some(e) => current.insert(ids(i), e.clone()),
                    None => current.remove(&ids(i)),
                };
                index.set(ids(i), change, 2 + i64::try_from(round).unwrap());
            }
            for i in 0..500 {
                let (id, e) = (ids(10_000 * (round + 1) + i), offer("new"));
                current.insert(id, e.clone());
                index.set(id, Some(e), 2 + i64::try_from(round).unwrap());
            }
            let compacted = index.compacted(2 + i64::try_from(round).unwrap());
            let built = Index::build(2, current.clone().into_iter());
            assert_eq!(compacted.sizes(), (current.len(), 0));
            assert_eq!(compacted.base.docs, built.base.docs);
            assert_eq!(compacted.base.postings, built.base.postings);
            assert_eq!(compacted.base.name_lens, built.base.name_lens);
            assert_eq!(compacted.entries(), built.entries());
            for q in ["tour", "cite min", "the", "pave", "new", "changed foret"] {
                assert_eq!(compacted.search(q), built.search(q), "{q}");
                assert_eq!(index.search(q).len(), built.search(q).len(), "{q}");
            }
            let area = [3.3, 50.35, 3.45, 50.42];
            assert_eq!(compacted.intersecting(area), built.intersecting(area));
            assert_eq!(compacted.points_in(area), built.points_in(area));
            let near = |i: &Index| i.nearest([3.4, 50.4], 3_000.0).collect::<Vec<_>>();
            assert_eq!(near(&compacted), near(&built));
            assert_eq!(compacted.count_within([3.4, 50.4], 3_000.0), built.count_within([3.4, 50.4], 3_000.0));
            index = compacted;
        }
        assert!(!index.search("changed").is_empty() && !index.search("new").is_empty());
    }

    #[test]
    fn search_over_postings_scores_as_each_entry_alone_would() {
        let names = [
            ("Cité minière de Wallers", "Cités minières, chevalement"),
            ("Minigolf de la cité", "mini cité, minier"),
            ("Maison du mineur", "La cité des mineurs"),
            ("Église", "Cité"),
            ("Terril", "minier minière minières"),
        ];
        let entries: Vec<(Uuid, Entry)> = (0..60u128)
            .map(|i| {
                let (n, b) = names[(i % 5) as usize];
                (ids(i), entry(n, b, [3.4, 50.4]))
            })
            .collect();
        let index = Index::build(1, entries.clone().into_iter());
        for q in ["cite minier", "cite min", "min", "mineur cite", "cite", "minieres", "eglise cite", "terril x"] {
            let words = tokens(q);
            let mut expect: Vec<(Uuid, f32)> = entries
                .iter()
                .filter_map(|(id, e)| score(&words, e).map(|s| (*id, s + 1.0 / (1.0 + f32::from(e.name_len)))))
                .collect();
            let mut got = index.search(q);
            expect.sort_by_key(|a| a.0);
            got.sort_by_key(|a| a.0);
            assert_eq!(got.len(), expect.len(), "{q}");
            for (g, e) in got.iter().zip(&expect) {
                assert_eq!(g.0, e.0, "{q}");
                assert!((g.1 - e.1).abs() < 1e-5, "{q}: {} against {}", g.1, e.1);
            }
        }
        assert!(!index.search("cite minier").is_empty());
    }

    #[test]
    fn within_counts_what_nearest_gives_over_base_and_overlay() {
        // A grid of points 0.01° apart around (3.4, 50.4), some replaced, removed or added.
        let grid: Vec<(Uuid, Entry)> = (0..400u128)
            .map(|i| {
                let p = [3.3 + (i % 20) as f64 * 0.01, 50.3 + (i / 20) as f64 * 0.01];
                (ids(i), entry("point", "", p))
            })
            .collect();
        let mut index = Index::build(1, grid.into_iter());
        index.set(ids(5), None, 2);
        index.set(ids(210), Some(entry("moved", "", [3.45, 50.42])), 2);
        index.set(ids(1000), Some(entry("new", "", [3.401, 50.399])), 2);
        for radius in [0.0, 500.0, 1_113.2, 5_000.0, 12_000.0, 50_000.0] {
            let mut near: Vec<Uuid> = index.nearest([3.4, 50.4], radius).map(|(id, _)| id).collect();
            let mut within: Vec<Uuid> = index.within([3.4, 50.4], radius).collect();
            near.sort();
            within.sort();
            assert_eq!(within, near, "radius {radius}");
            assert_eq!(index.count_within([3.4, 50.4], radius), within.len(), "radius {radius}");
        }
        assert!(index.within([3.4, 50.4], 5_000.0).count() > 50);
    }

    #[test]
    fn counting_by_subtrees_gives_what_within_gives() {
        // 20,000 scattered points (deep enough a tree for whole subtrees to fall inside), a
        // quarter of them then moved, removed or joined by new ones; circles of every size,
        // centred anywhere, including on points and off the data.
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut at = || [3.0 + next() * 0.8, 50.1 + next() * 0.5];
        let points: Vec<[f64; 2]> = (0..20_000).map(|_| at()).collect();
        let mut index = Index::build(1, points.iter().enumerate().map(|(i, p)| (ids(i as u128), entry("p", "", *p))));
        for i in (0..20_000u128).step_by(4) {
            let change = match i % 3 {
                0 => None,
                1 => Some(entry("moved", "", at())),
                _ => Some(entry("same place", "", points[i as usize])),
            };
            index.set(ids(i), change, 2);
            index.set(ids(100_000 + i), Some(entry("new", "", at())), 2);
        }
        for (k, radius) in [0.0, 10.0, 800.0, 3_000.0, 9_999.5, 20_000.0, 45_000.0, 400_000.0].into_iter().enumerate() {
            for center in [points[k * 7], at(), [3.4, 50.38], [10.0, 45.0]] {
                let want = index.within(center, radius).count();
                assert_eq!(index.count_within(center, radius), want, "{center:?} {radius}");
            }
        }
        assert!(index.count_within([3.4, 50.35], 20_000.0) > 1_000, "the test reaches whole subtrees");
    }

    #[test]
    fn nearest_comes_in_order_of_distance_on_the_ground() {
        // Along a parallel at 50° N a degree of longitude is 0.64 of one of latitude: the
        // eastern point (0.010° away, 714 m) is nearer than the northern one (0.008°, 890 m),
        // which an order by degrees would put first.
        let index = Index::build(
            1,
            vec![(ids(1), entry("east", "", [3.0 + 0.010, 50.0])), (ids(2), entry("north", "", [3.0, 50.0 + 0.008]))]
                .into_iter(),
        );
        let order: Vec<(Uuid, f64)> = index.nearest([3.0, 50.0], 5_000.0).collect();
        assert_eq!(order.iter().map(|o| o.0).collect::<Vec<_>>(), vec![ids(1), ids(2)]);
        for (id, d) in order {
            let p = if id == ids(1) { [3.010, 50.0] } else { [3.0, 50.008] };
            assert!((d - distance([3.0, 50.0], p)).abs() < 0.01, "{d}");
        }
    }
}
