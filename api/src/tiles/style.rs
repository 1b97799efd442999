//! The MapLibre style (version 8) that draws every layer: communes, footprints and routes
//! coloured by theme, offers by kind, totems larger and ringed.

use crate::extract::Query;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{MapParams, parse_lang, territory_bounds};
use crate::error::Result;
use crate::lang::Lang;
use crate::state::Reads;

/// Colour of each kind of offer.
pub const KIND_COLORS: [(&str, &str); 7] = [
    ("site", "#8c510a"),
    ("accommodation", "#5ab4ac"),
    ("event", "#d6604d"),
    ("route", "#4393c3"),
    ("restaurant", "#e08214"),
    ("activity", "#1b7837"),
    ("service", "#878787"),
];

fn match_expression(property: &str, pairs: &[(String, String)], fallback: &str) -> Value {
    let mut e = vec![json!("match"), json!(["get", property])];
    for (k, v) in pairs {
        e.push(json!(k));
        e.push(json!(v));
    }
    e.push(json!(fallback));
    Value::Array(e)
}

/// `GET /tiles/style.json`.
pub async fn style(
    State(state): State<Reads>,
    Query(params): Query<MapParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let lang = parse_lang(params.lang.as_deref())?;
    let catalog = state.catalog.get();
    let base = state.config.base_url(&headers);
    let suffix = if lang == Lang::Fr { String::new() } else { format!("?lang={}", lang.code()) };
    let themes: Vec<(String, String)> = catalog.themes.iter().map(|t| (t.code.clone(), t.color.clone())).collect();
    let kinds: Vec<(String, String)> = KIND_COLORS.iter().map(|(k, c)| ((*k).to_owned(), (*c).to_owned())).collect();
    let by_theme = match_expression("theme", &themes, "#666666");
    let by_kind = match_expression("kind", &kinds, "#666666");
    let [w, s, e, n] = territory_bounds(&catalog);
    let doc = json!({
        "version": 8,
        "name": "La Porte du Hainaut: the tourist offer",
        "center": [(w + e) / 2.0, (s + n) / 2.0],
        "zoom": 10,
        "sources": {
            "offer": { "type": "vector", "url": format!("{base}/tiles/communes,footprints,routes,offers.json{suffix}") }
        },
        "layers": [
            { "id": "background", "type": "background", "paint": { "background-color": "#f4f1ea" } },
            { "id": "communes-fill", "type": "fill", "source": "offer", "source-layer": "communes",
              "paint": { "fill-color": "#ffffff", "fill-opacity": 0.5 } },
            { "id": "communes-line", "type": "line", "source": "offer", "source-layer": "communes",
              "paint": { "line-color": "#9a8f7a", "line-width": 1 } },
            { "id": "footprints-fill", "type": "fill", "source": "offer", "source-layer": "footprints",
              "paint": { "fill-color": by_theme.clone(), "fill-opacity": 0.45 } },
            { "id": "footprints-line", "type": "line", "source": "offer", "source-layer": "footprints",
              "paint": { "line-color": by_theme.clone(), "line-width": 1 } },
            { "id": "routes-line", "type": "line", "source": "offer", "source-layer": "routes",
              "layout": { "line-join": "round", "line-cap": "round" },
              "paint": { "line-color": by_theme.clone(), "line-width": 3, "line-dasharray": [2, 1] } },
            { "id": "offers-circle", "type": "circle", "source": "offer", "source-layer": "offers",
              "filter": ["!=", ["get", "isTotem"], true],
              "paint": { "circle-color": by_kind, "circle-radius": 5, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1 } },
            { "id": "totems-circle", "type": "circle", "source": "offer", "source-layer": "offers",
              "filter": ["==", ["get", "isTotem"], true],
              "paint": { "circle-color": by_theme, "circle-radius": 11, "circle-stroke-color": "#1a1a1a", "circle-stroke-width": 3 } }
        ]
    });
    Ok(Json(doc).into_response())
}
