//! What the GraphQL fuzz targets share: a structure-aware generator of GraphQL requests (deep and
//! wide documents, fragments, directives, variables and values drawn from the schema's own
//! vocabulary and from junk), and the real application over a territory catalog, built once.
#![allow(missing_docs)]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use serde_json::{Value, json};

/// Field names of the schema (and a few that are not).
const FIELDS: &[&str] = &[
    "offers", "offer", "totems", "themes", "communes", "commune", "routes", "changes", "stats", "edges", "node",
    "nodes", "cursor", "pageInfo", "endCursor", "hasNextPage", "totalCount", "id", "slug", "name", "kind", "themes",
    "correlates", "nearby", "geometry", "location", "lat", "lon", "distanceMeters", "route", "stages", "qrCodes",
    "revisions", "source", "code", "totem", "offerCount", "__typename", "__schema", "types", "fields", "__type",
    "offerChanged", "createOffer", "updateOffer", "publishOffer", "nope", "description", "occurrences", "isOpenAt",
];
const ARGS: &[&str] = &[
    "filter", "first", "after", "lang", "id", "slug", "code", "radiusMeters", "kinds", "text", "near", "bbox",
    "themes", "communes", "from", "to", "openAt", "input", "expectedVersion", "ids", "if", "name", "x",
];
const TYPES: &[&str] = &["Query", "Offer", "Theme", "Commune", "OfferConnection", "Mutation", "Subscription", "String", "Nope"];
const VAR_TYPES: &[&str] =
    &["Int", "Int!", "String", "String!", "Boolean!", "OfferFilter", "[OfferKind!]", "Float", "ID!", "Offer", "[[Int]]"];
const ENUMS: &[&str] = &["SITE", "EVENT", "EN", "FR", "true", "null", "ROUTE"];
const DIRECTIVES: &[&str] = &["skip", "include", "deprecated", "unknown"];

/// A value in a document.
#[derive(Arbitrary, Debug)]
pub enum Val {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(u8),
    Var(u8),
    List(Vec<Val>),
    Obj(Vec<(u8, Val)>),
    /// `depth` levels of brackets or braces.
    Deep(bool, u16),
}

/// A selection.
#[derive(Arbitrary, Debug)]
pub enum Item {
    Field { alias: Option<u8>, name: u8, args: Vec<(u8, Val)>, directives: Vec<(u8, Val)>, sel: Option<Sel> },
    Spread(u8, Vec<(u8, Val)>),
    Inline(Option<u8>, Sel),
    /// The same field `times` times (a wide document).
    Repeat(u8, u16),
}

/// A selection set.
#[derive(Arbitrary, Debug)]
pub struct Sel(pub Vec<Item>);

/// An operation.
#[derive(Arbitrary, Debug)]
pub struct Op {
    pub kind: u8,
    pub name: Option<u8>,
    pub vars: Vec<(u8, u8, Option<Val>)>,
    pub sel: Sel,
}

/// A fragment.
#[derive(Arbitrary, Debug)]
pub struct Frag {
    pub name: u8,
    pub on: u8,
    pub sel: Sel,
}

/// A whole request.
#[derive(Arbitrary, Debug)]
pub struct Req {
    pub ops: Vec<Op>,
    pub frags: Vec<Frag>,
    /// A chain of fragments each spreading the one before this many times.
    pub bomb: Option<(u8, u8)>,
    pub variables: Vec<(u8, JsonVal)>,
    pub operation: Option<u8>,
    pub transport: u8,
}

/// A JSON value for `variables`.
#[derive(Arbitrary, Debug)]
pub enum JsonVal {
    Num(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    Null,
    Arr(Vec<JsonVal>),
    Obj(Vec<(u8, JsonVal)>),
    Deep(u16),
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn value(v: &Val, out: &mut String) {
    match v {
        Val::Int(i) => out.push_str(&i.to_string()),
        Val::Float(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
        Val::Float(_) => out.push('1'),
        Val::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Null => out.push_str("null"),
        Val::Enum(e) => out.push_str(pick(ENUMS, *e)),
        Val::Var(n) => out.push_str(&format!("$v{}", n % 4)),
        Val::List(items) => {
            out.push('[');
            for i in items {
                value(i, out);
                out.push(' ');
            }
            out.push(']');
        }
        Val::Obj(fields) => {
            out.push('{');
            for (k, v) in fields {
                out.push_str(pick(ARGS, *k));
                out.push(':');
                value(v, out);
                out.push(' ');
            }
            out.push('}');
        }
        Val::Deep(braces, n) => {
            let n = usize::from(*n);
            if *braces {
                out.push_str(&"{a:".repeat(n));
                out.push('1');
                out.push_str(&"}".repeat(n));
            } else {
                out.push_str(&"[".repeat(n));
                out.push_str(&"]".repeat(n));
            }
        }
    }
}

fn args(list: &[(u8, Val)], out: &mut String) {
    if list.is_empty() {
        return;
    }
    out.push('(');
    for (k, v) in list {
        out.push_str(pick(ARGS, *k));
        out.push(':');
        value(v, out);
        out.push(' ');
    }
    out.push(')');
}

fn selection(sel: &Sel, out: &mut String) {
    out.push('{');
    for item in &sel.0 {
        match item {
            Item::Field { alias, name, args: a, directives, sel } => {
                if let Some(al) = alias {
                    out.push_str(&format!("a{al}:"));
                }
                out.push_str(pick(FIELDS, *name));
                args(a, out);
                for (d, v) in directives {
                    out.push_str(&format!(" @{}(if:", pick(DIRECTIVES, *d)));
                    value(v, out);
                    out.push(')');
                }
                if let Some(s) = sel {
                    selection(s, out);
                }
            }
            Item::Spread(f, directives) => {
                out.push_str(&format!("...F{}", f % 8));
                for (d, v) in directives {
                    out.push_str(&format!(" @{}(if:", pick(DIRECTIVES, *d)));
                    value(v, out);
                    out.push(')');
                }
            }
            Item::Inline(on, s) => {
                out.push_str("...");
                if let Some(t) = on {
                    out.push_str(&format!(" on {}", pick(TYPES, *t)));
                }
                selection(s, out);
            }
            Item::Repeat(name, times) => {
                for _ in 0..usize::from(*times).min(5_000) {
                    out.push_str(pick(FIELDS, *name));
                    out.push(' ');
                }
            }
        }
        out.push(' ');
    }
    out.push('}');
}

fn json_value(v: &JsonVal) -> Value {
    match v {
        JsonVal::Num(f) => json!(f),
        JsonVal::Int(i) => json!(i),
        JsonVal::Str(s) => json!(s),
        JsonVal::Bool(b) => json!(b),
        JsonVal::Null => Value::Null,
        JsonVal::Arr(a) => Value::Array(a.iter().map(json_value).collect()),
        JsonVal::Obj(o) => Value::Object(o.iter().map(|(k, v)| (pick(ARGS, *k).to_owned(), json_value(v))).collect()),
        // Deeper than serde_json reads (128): the server must refuse it, not recurse.
        JsonVal::Deep(n) => {
            let mut v = json!(1);
            for _ in 0..usize::from(*n).min(120) {
                v = json!([v]);
            }
            v
        }
    }
}

impl Req {
    /// The document's text.
    pub fn document(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            out.push_str(["query", "mutation", "subscription", ""][usize::from(op.kind % 4)]);
            if let Some(n) = op.name {
                out.push_str(&format!(" O{}", n % 4));
            }
            if !op.vars.is_empty() {
                out.push('(');
                for (n, t, d) in &op.vars {
                    out.push_str(&format!("$v{}:{}", n % 4, pick(VAR_TYPES, *t)));
                    if let Some(d) = d {
                        out.push('=');
                        value(d, &mut out);
                    }
                    out.push(' ');
                }
                out.push(')');
            }
            selection(&op.sel, &mut out);
            out.push('\n');
        }
        for f in &self.frags {
            out.push_str(&format!("fragment F{} on {}", f.name % 8, pick(TYPES, f.on)));
            selection(&f.sel, &mut out);
            out.push('\n');
        }
        if let Some((levels, width)) = self.bomb {
            let width = usize::from(width % 4) + 2;
            out.push_str(&format!("query Bomb {{ ...B{} }} fragment B0 on Query {{ __typename }}", levels % 48));
            for i in 1..=usize::from(levels % 48) {
                out.push_str(&format!(" fragment B{i} on Query {{ {} }}", format!("...B{} ", i - 1).repeat(width)));
            }
        }
        out
    }

    /// The request's variables.
    pub fn variables(&self) -> Value {
        Value::Object(self.variables.iter().map(|(k, v)| (format!("v{}", k % 4), json_value(v))).collect())
    }

    /// The operation to run, when one is named.
    pub fn operation_name(&self) -> Option<String> {
        self.operation.map(|n| format!("O{}", n % 4))
    }
}

/// The application over the territory, built once per process (an SQLite file in a temporary
/// folder, migrated and seeded by the server's own start-up code).
pub struct App {
    pub runtime: tokio::runtime::Runtime,
    pub state: api::state::AppState,
    pub router: api::tiles::hot::Lane,
}

/// The shared application.
pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        use clap::Parser;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let dir = std::env::temp_dir().join(format!("fuzz-graphql-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        let mut cli = api::Cli::parse_from(["api"]);
        cli.config.database_url = Some(format!("sqlite://{}?mode=rwc", dir.join("fuzz.db").display()));
        cli.config.rate_limit_anonymous = 0;
        let state = runtime.block_on(api::server::prepare(&cli.config)).expect("application");
        let router = api::router(state.clone());
        App { runtime, state, router }
    })
}
