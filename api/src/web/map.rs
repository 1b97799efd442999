//! The map page: `GET /map` shows every layer from `/tiles/style.json` with MapLibre GL JS,
//! vendored from its npm package (`api/assets/maplibre`, see `scripts/update-maplibre.sh`); its
//! script and style are files of ours (`/assets/map.js`, `/assets/map.css`), so that the page
//! runs under a content security policy without inline code.

use axum::response::Html;

const PAGE: &str = r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>La Porte du Hainaut — carte de l'offre touristique</title>
<link rel="stylesheet" href="/assets/maplibre-gl.css">
<link rel="stylesheet" href="/assets/map.css">
</head>
<body>
<div id="map"></div>
<script src="/assets/maplibre-gl.js"></script>
<script src="/assets/map.js"></script>
</body>
</html>
"#;

/// `GET /map`.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}
