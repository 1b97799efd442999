//! The map page: `GET /map` shows every layer from `/tiles/style.json` with MapLibre GL JS,
//! vendored from its npm package (`api/assets/maplibre`, see `scripts/update-maplibre.sh`) and
//! served by the binary itself, without a CDN.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

const MAPLIBRE_JS: &[u8] = include_bytes!("../assets/maplibre/maplibre-gl.js");
const MAPLIBRE_CSS: &[u8] = include_bytes!("../assets/maplibre/maplibre-gl.css");

const PAGE: &str = r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>La Porte du Hainaut — carte de l'offre touristique</title>
<link rel="stylesheet" href="/map/maplibre-gl.css">
<style>
  html, body, #map { margin: 0; height: 100%; width: 100%; font-family: system-ui, sans-serif; }
  .popup-name { font-weight: 600; }
  .popup-kind { color: #555; font-size: 12px; }
</style>
</head>
<body>
<div id="map"></div>
<script src="/map/maplibre-gl.js"></script>
<script>
  const map = new maplibregl.Map({ container: 'map', style: '/tiles/style.json', hash: true });
  map.addControl(new maplibregl.NavigationControl());
  window.__map = map;
  window.__mapIdle = false;
  map.on('idle', () => { window.__mapIdle = true; });
  map.on('error', (e) => { window.__mapError = String(e && e.error && e.error.message || e); });
  const clickable = ['totems-circle', 'offers-circle', 'routes-line', 'footprints-fill'];
  map.on('click', (e) => {
    const features = map.queryRenderedFeatures(e.point, { layers: clickable });
    if (!features.length) return;
    const p = features[0].properties;
    const box = document.createElement('div');
    const name = document.createElement('div');
    name.className = 'popup-name';
    name.textContent = p.name;
    const kind = document.createElement('div');
    kind.className = 'popup-kind';
    kind.textContent = (p.isTotem ? 'totem · ' : '') + p.kind + (p.themes ? ' · ' + p.themes : '');
    box.append(name, kind);
    if (p.url) {
      const link = document.createElement('a');
      link.href = p.url;
      link.textContent = p.url;
      box.append(link);
    }
    window.__lastPopup = p.name;
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(box).addTo(map);
  });
  for (const layer of clickable) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
</script>
</body>
</html>
"#;

/// `GET /map`.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    r
}

/// `GET /map/maplibre-gl.js`.
pub async fn maplibre_js() -> Response {
    asset(MAPLIBRE_JS, "text/javascript; charset=utf-8")
}

/// `GET /map/maplibre-gl.css`.
pub async fn maplibre_css() -> Response {
    asset(MAPLIBRE_CSS, "text/css; charset=utf-8")
}
