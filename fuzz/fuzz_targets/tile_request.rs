//! The parts of a tile URL: the layer list and the z/x/y numbers, then the bbox of layers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '/');
    let layers = parts.next().unwrap_or("");
    let _ = api::tiles::Layer::parse_list(layers);
    let nums: Vec<u32> = parts.filter_map(|p| p.trim_end_matches(".mvt").parse().ok()).collect();
    if let [z, x, y] = nums[..] {
        let _ = api::tiles::encode::TileCoord::new(z, x, y);
    }
    let _ = api::layers::parse_bbox(text);
});
