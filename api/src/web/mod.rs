//! What a browser opens: the front door (`GET /`, HTML or JSON), the map (`/map`), GraphiQL
//! (`GET /graphql` from a browser), the README (`/docs`), and the static files they use under
//! `/assets/`. Every file is compiled into the binary (MapLibre, GraphiQL and React vendored from
//! their npm packages by `scripts/update-maplibre.sh` and `scripts/update-graphiql.sh`): no page
//! asks anything of another origin, and every page works offline.

pub mod map;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use serde_json::json;

use crate::error::Error;

/// A file served under `/assets/`.
struct Asset {
    name: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset { name: "maplibre-gl.js", body: include_bytes!("../../assets/maplibre/maplibre-gl.js"), content_type: JS },
    Asset { name: "maplibre-gl.css", body: include_bytes!("../../assets/maplibre/maplibre-gl.css"), content_type: CSS },
    Asset { name: "map.js", body: include_bytes!("../../assets/web/map.js"), content_type: JS },
    Asset { name: "map.css", body: include_bytes!("../../assets/web/map.css"), content_type: CSS },
    Asset { name: "react.js", body: include_bytes!("../../assets/graphiql/react.js"), content_type: JS },
    Asset { name: "react-dom.js", body: include_bytes!("../../assets/graphiql/react-dom.js"), content_type: JS },
    Asset { name: "graphiql.js", body: include_bytes!("../../assets/graphiql/graphiql.js"), content_type: JS },
    Asset { name: "graphiql.css", body: include_bytes!("../../assets/graphiql/graphiql.css"), content_type: CSS },
    Asset { name: "explorer.js", body: include_bytes!("../../assets/graphiql/explorer.js"), content_type: JS },
    Asset { name: "explorer.css", body: include_bytes!("../../assets/graphiql/explorer.css"), content_type: CSS },
    Asset { name: "graphiql-page.js", body: include_bytes!("../../assets/web/graphiql.js"), content_type: JS },
    Asset { name: "graphiql-page.css", body: include_bytes!("../../assets/web/graphiql.css"), content_type: CSS },
    Asset { name: "page.css", body: include_bytes!("../../assets/web/page.css"), content_type: CSS },
];

/// `GET /assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => {
            let mut r = a.body.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
            r
        }
        None => Error::NotFound(format!("no asset {file:?}")).into_response(),
    }
}

/// An HTML page of ours in a language (`en`, `fr`): the shared style sheet, a title, a body
/// already escaped.
pub fn page(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/page.css\"></head>\
         <body><main>{body}</main></body></html>",
        title = crate::qr::codes::escape(title)
    )
}

/// `GET /graphql` from a browser: GraphiQL.
pub fn graphiql() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>GraphiQL · Porte du Hainaut offer API</title>",
        "<link rel=\"stylesheet\" href=\"/assets/graphiql.css\">",
        "<link rel=\"stylesheet\" href=\"/assets/explorer.css\">",
        "<link rel=\"stylesheet\" href=\"/assets/graphiql-page.css\">",
        "</head><body><div id=\"graphiql\">Loading GraphiQL…</div>",
        "<script src=\"/assets/react.js\"></script>",
        "<script src=\"/assets/react-dom.js\"></script>",
        "<script src=\"/assets/graphiql.js\"></script>",
        "<script src=\"/assets/explorer.js\"></script>",
        "<script src=\"/assets/graphiql-page.js\"></script>",
        "</body></html>"
    ))
}

/// A link of the front door.
struct Link {
    href: &'static str,
    title: &'static str,
    media: &'static str,
}

/// What the front door points to, by section.
const SECTIONS: &[(&str, &[Link])] = &[
    (
        "Explore",
        &[
            Link { href: "/graphql", title: "GraphiQL: write and run GraphQL queries", media: "text/html" },
            Link { href: "/map", title: "The map of the whole offer", media: "text/html" },
            Link { href: "/docs", title: "The documentation (this service's README)", media: "text/html" },
        ],
    ),
    (
        "GraphQL",
        &[
            Link {
                href: "/graphql",
                title: "GraphQL over HTTP (POST or GET)",
                media: "application/graphql-response+json",
            },
            Link { href: "/graphql/ws", title: "GraphQL subscriptions (graphql-transport-ws)", media: "websocket" },
            Link { href: "/graphql/schema.graphql", title: "The schema (SDL)", media: "text/plain" },
        ],
    ),
    (
        "Maps",
        &[
            Link { href: "/tiles/style.json", title: "MapLibre style of every layer", media: "application/json" },
            Link {
                href: "/tiles/communes,footprints,routes,offers.json",
                title: "TileJSON of the vector tiles",
                media: "application/json",
            },
            Link { href: "/layers", title: "The GeoJSON layers", media: "application/json" },
            Link { href: "/layers/offers.geojson", title: "Every offer as GeoJSON", media: "application/geo+json" },
        ],
    ),
    (
        "Feeds for partners",
        &[
            Link { href: "/feeds/offers.geojson", title: "The offer as GeoJSON", media: "application/geo+json" },
            Link {
                href: "/feeds/offers.jsonld",
                title: "The offer as schema.org JSON-LD",
                media: "application/ld+json",
            },
            Link { href: "/feeds/events.ics", title: "Events as iCalendar", media: "text/calendar" },
            Link { href: "/feeds/changes", title: "The change feed, to mirror the offer", media: "application/json" },
            Link { href: "/ogc", title: "OGC API – Features", media: "application/json" },
        ],
    ),
    (
        "Operations",
        &[
            Link { href: "/readyz", title: "Readiness", media: "application/json" },
            Link { href: "/healthz", title: "Liveness", media: "application/json" },
            Link { href: "/metrics", title: "Prometheus metrics", media: "text/plain" },
        ],
    ),
    (
        "Using the API",
        &[
            Link { href: "/docs#api-keys-and-roles", title: "API keys and roles", media: "text/html" },
            Link { href: "/docs#limits", title: "Limits: request sizes, rates, connections", media: "text/html" },
            Link {
                href: "/docs#calling-from-a-browser-cors",
                title: "Calling from a browser (CORS)",
                media: "text/html",
            },
        ],
    ),
];

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("json") && !accept.contains("text/html")
}

/// `GET /`: the front door, HTML for a browser, JSON for `Accept: application/json`.
pub async fn landing(headers: HeaderMap) -> Response {
    let name = "Porte du Hainaut offer API";
    let about = "The tourist offer of La Porte du Hainaut (47 communes around Valenciennes, Nord): its five \
                 totems and their corrélats, accommodation, events and routes, for the website, the apps, \
                 QR signs and the neighbouring destinations.";
    let mut r = if wants_json(&headers) {
        let sections: Vec<_> = SECTIONS
            .iter()
            .map(|(title, links)| {
                json!({
                    "title": title,
                    "links": links.iter().map(|l| json!({ "href": l.href, "title": l.title, "type": l.media })).collect::<Vec<_>>(),
                })
            })
            .collect();
        axum::Json(
            json!({ "name": name, "description": about, "version": env!("CARGO_PKG_VERSION"), "sections": sections }),
        )
        .into_response()
    } else {
        let mut body = format!("<h1>{name}</h1><p>{about}</p>");
        for (title, links) in SECTIONS {
            body.push_str(&format!("<h2>{title}</h2><ul>"));
            for l in *links {
                body.push_str(&format!("<li><a href=\"{}\">{}</a> <small>{}</small></li>", l.href, l.title, l.media));
            }
            body.push_str("</ul>");
        }
        body.push_str(
            "<p><small>Every record carries its source, licence and attribution; see \
             <a href=\"/docs#where-the-data-comes-from\">where the data comes from</a>.</small></p>",
        );
        Html(page("en", name, &body)).into_response()
    };
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    r
}

/// The README, rendered once.
static DOCS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| render_markdown(include_str!("../../../README.md")));

/// `GET /docs`: the README.
pub async fn docs() -> Html<String> {
    Html(page("en", "Porte du Hainaut offer API: documentation", &DOCS))
}

/// The anchor GitHub gives a heading: lowercase words joined by hyphens, punctuation dropped.
fn anchor(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Markdown to HTML, headings with GitHub's anchors, raw HTML in the source shown as text.
fn render_markdown(markdown: &str) -> String {
    let mut events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { .. }) = &events[i] {
            let mut text = String::new();
            for e in events.iter().skip(i + 1) {
                match e {
                    Event::End(TagEnd::Heading(_)) => break,
                    Event::Text(t) | Event::Code(t) => text.push_str(t),
                    _ => {}
                }
            }
            if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
                *id = Some(CowStr::from(anchor(&text)));
            }
        }
        if let Event::Html(h) | Event::InlineHtml(h) = &events[i] {
            events[i] = Event::Text(h.clone());
        }
        i += 1;
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_the_anchors_the_front_door_links_to() {
        let html = render_markdown(
            "# Title\n\n### API keys and roles\n\n## Calling from a browser (CORS)\n\n<script>x</script>\n",
        );
        assert!(html.contains("<h3 id=\"api-keys-and-roles\">"), "{html}");
        assert!(html.contains("<h2 id=\"calling-from-a-browser-cors\">"), "{html}");
        assert!(!html.contains("<script>"), "raw HTML is shown as text: {html}");
    }

    #[test]
    fn every_anchor_of_the_front_door_is_in_the_readme() {
        for (_, links) in SECTIONS {
            for l in *links {
                if let Some((_, anchor)) = l.href.split_once('#') {
                    assert!(DOCS.contains(&format!("id=\"{anchor}\"")), "the README has no heading for #{anchor}");
                }
            }
        }
    }
}
