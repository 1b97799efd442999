//! Bounds on what a GraphQL document may cost, checked before anything walks it recursively.
//!
//! The parser (a pest grammar) recurses once per nesting level of a value or a selection set, so
//! a 4 KB request of nested brackets overflowed the worker's stack and ended the process; and
//! async-graphql's own checks (recursion depth, validation) follow every fragment spread, so a
//! document of 831 bytes whose fragments each spread the previous one twice cost gigabytes. Here:
//!
//! 1. [`prescan`] reads the text as GraphQL tokens, without recursion, and refuses a nesting
//!    deeper than [`MAX_NESTING`] before the parser sees it. The same pass refuses an input
//!    object that names a field twice (specification 5.6.3), which the parser would silently
//!    collapse into one.
//! 2. [`check`] measures the parsed document with every fragment spread expanded, each
//!    fragment's size computed once, and refuses cycles and documents past the budget, before
//!    async-graphql's recursion-depth check and validation run. It also enforces the rules of
//!    section 5 that async-graphql leaves out: a subscription has exactly one root field, and
//!    `__typename` takes no argument and no selection (its directives are checked by
//!    async-graphql once [`check`] moves them onto an inline fragment, which means the same).
//!
//! Hand-written because neither the parser nor async-graphql offers these bounds before they
//! recurse; the scan is one linear pass over the bytes.

use std::collections::{HashMap, HashSet};

use async_graphql::Positioned;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, InlineFragment, OperationType, Selection,
    SelectionSet,
};

/// Deepest nesting of `{`, `[` and `(` accepted in a document (selections, arguments and values
/// together). The deepest useful query of this schema nests about 20; the parser's stack holds
/// about 2,000.
pub const MAX_NESTING: usize = 64;
/// Most selections (fields, spreads, inline fragments) a document may have once every fragment
/// spread is expanded. GraphiQL's introspection query is about 600.
pub const MAX_SELECTIONS: u64 = 3_000;
/// Most aliases, counted with fragment spreads expanded.
pub const MAX_ALIASES: u64 = 30;
/// Most fragment definitions in one document.
pub const MAX_FRAGMENTS: usize = 100;
/// Most operations in one document (only one runs).
pub const MAX_OPERATIONS: usize = 20;

/// Why a document was refused before validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

fn refuse(message: impl Into<String>) -> DocumentError {
    DocumentError(message.into())
}

/// Where a `{`, `(` or `[` opened.
#[derive(Debug)]
enum Frame<'a> {
    /// A selection set.
    Selection,
    /// Arguments or variable definitions.
    Parens,
    /// A list value.
    List,
    /// An input object value, with the field names seen so far.
    Object(Vec<&'a str>),
}

/// Reads the document as tokens: refuses nesting deeper than [`MAX_NESTING`] and input objects
/// that name a field twice. Anything else that is wrong is left for the parser to report.
pub fn prescan(query: &str) -> Result<(), DocumentError> {
    let bytes = query.as_bytes();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    // The name just read, when nothing but ignored characters came after it.
    let mut last_name: Option<&str> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                last_name = None;
                i = skip_string(bytes, i);
            }
            b'{' | b'[' | b'(' => {
                last_name = None;
                if stack.len() >= MAX_NESTING {
                    return Err(refuse(format!(
                        "the document nests deeper than {MAX_NESTING} levels of braces, brackets and parentheses"
                    )));
                }
                stack.push(match b {
                    b'(' => Frame::Parens,
                    b'[' => Frame::List,
                    // Inside arguments, a list or an object, a brace opens an input object.
                    _ => match stack.last() {
                        Some(Frame::Parens | Frame::List | Frame::Object(_)) => Frame::Object(Vec::new()),
                        _ => Frame::Selection,
                    },
                });
                i += 1;
            }
            b'}' | b']' | b')' => {
                last_name = None;
                stack.pop();
                i += 1;
            }
            b':' => {
                if let (Some(name), Some(Frame::Object(seen))) = (last_name.take(), stack.last_mut()) {
                    if seen.contains(&name) {
                        return Err(refuse(format!(
                            "an input object names the field \"{name}\" more than once (there can be only one)"
                        )));
                    }
                    seen.push(name);
                }
                i += 1;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                last_name = query.get(start..i);
            }
            _ => {
                // Numbers, `$`, `@`, `!`, `=`, `|`, `&`, `...` and anything the parser will refuse.
                last_name = None;
                i += 1;
            }
        }
    }
    Ok(())
}

/// The index just past a string that starts at `start` (a `"`), block strings included.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return bytes.len();
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            // A string ends at the line; the parser reports it unterminated.
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The operations of a checked document, by name, with their types.
#[derive(Debug, Clone, Default)]
pub struct Operations(Vec<(Option<String>, OperationType)>);

impl Operations {
    /// The type of the operation a request names (or of the only one), when there is one.
    pub fn kind(&self, name: Option<&str>) -> Option<OperationType> {
        match name {
            Some(name) => self.0.iter().find(|(n, _)| n.as_deref() == Some(name)).map(|(_, t)| *t),
            None if self.0.len() == 1 => self.0.first().map(|(_, t)| *t),
            None => None,
        }
    }
}

/// What the expansion of the document costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    selections: u64,
    aliases: u64,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            selections: self.selections.saturating_add(other.selections),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }

    fn over(self) -> bool {
        self.selections > MAX_SELECTIONS || self.aliases > MAX_ALIASES
    }
}

/// Sizes fragments once each, spotting cycles.
struct Measure<'a> {
    fragments: &'a HashMap<async_graphql::Name, Positioned<FragmentDefinition>>,
    sizes: HashMap<&'a str, Cost>,
    visiting: HashSet<&'a str>,
}

impl<'a> Measure<'a> {
    fn fragment(&mut self, name: &'a str) -> Result<Cost, DocumentError> {
        if let Some(c) = self.sizes.get(name) {
            return Ok(*c);
        }
        // An unknown fragment is reported by validation; it costs nothing here.
        let Some(def) = self.fragments.get(name) else { return Ok(Cost::default()) };
        if !self.visiting.insert(name) {
            return Err(refuse(format!("the fragment \"{name}\" spreads itself, through a cycle of spreads")));
        }
        let cost = self.set(&def.node.selection_set.node)?;
        self.visiting.remove(name);
        self.sizes.insert(name, cost);
        Ok(cost)
    }

    fn set(&mut self, set: &'a SelectionSet) -> Result<Cost, DocumentError> {
        let mut total = Cost::default();
        for item in &set.items {
            let cost = match &item.node {
                Selection::Field(f) => {
                    let children = self.set(&f.node.selection_set.node)?;
                    Cost { selections: 1, aliases: u64::from(f.node.alias.is_some()) }.add(children)
                }
                Selection::FragmentSpread(s) => {
                    Cost { selections: 1, aliases: 0 }.add(self.fragment(s.node.fragment_name.node.as_str())?)
                }
                Selection::InlineFragment(f) => {
                    Cost { selections: 1, aliases: 0 }.add(self.set(&f.node.selection_set.node)?)
                }
            };
            total = total.add(cost);
            // Stop as soon as the budget is gone: a bomb is refused before it is measured.
            if total.over() {
                return Ok(total);
            }
        }
        Ok(total)
    }
}

/// Checks the budget and the rules async-graphql leaves out, then moves the directives of
/// `__typename` fields onto inline fragments (async-graphql's validation does not look at
/// `__typename`, so its directives would go unchecked and the variables they use would count as
/// unused). Returns the operations and their types.
pub fn check(doc: &mut ExecutableDocument) -> Result<Operations, DocumentError> {
    let operations: Vec<(Option<String>, OperationType)> =
        doc.operations.iter().map(|(name, op)| (name.map(|n| n.to_string()), op.node.ty)).collect();
    if operations.len() > MAX_OPERATIONS {
        return Err(refuse(format!("the document has more than {MAX_OPERATIONS} operations")));
    }
    if doc.fragments.len() > MAX_FRAGMENTS {
        return Err(refuse(format!("the document has more than {MAX_FRAGMENTS} fragments")));
    }
    {
        let mut measure = Measure { fragments: &doc.fragments, sizes: HashMap::new(), visiting: HashSet::new() };
        let mut total = Cost::default();
        for (_, op) in doc.operations.iter() {
            total = total.add(measure.set(&op.node.selection_set.node)?);
        }
        for name in doc.fragments.keys() {
            total = total.add(measure.fragment(name.as_str())?);
        }
        if total.selections > MAX_SELECTIONS {
            return Err(refuse(format!(
                "the document selects more than {MAX_SELECTIONS} fields once its fragments are expanded"
            )));
        }
        if total.aliases > MAX_ALIASES {
            return Err(refuse(format!(
                "the document has more than {MAX_ALIASES} aliases once its fragments are expanded"
            )));
        }
    }
    for (_, op) in doc.operations.iter() {
        check_typename(&op.node.selection_set.node)?;
        if op.node.ty == OperationType::Subscription {
            let mut keys = HashSet::new();
            root_fields(doc, &op.node.selection_set.node, &mut keys, 0);
            if keys.len() != 1 {
                return Err(refuse("a subscription selects exactly one root field"));
            }
        }
    }
    for f in doc.fragments.values() {
        check_typename(&f.node.selection_set.node)?;
    }
    match &mut doc.operations {
        DocumentOperations::Single(op) => move_typename_directives(&mut op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => {
            ops.values_mut().for_each(|op| move_typename_directives(&mut op.node.selection_set.node))
        }
    }
    doc.fragments.values_mut().for_each(|f| move_typename_directives(&mut f.node.selection_set.node));
    Ok(Operations(operations))
}

/// The response keys of a subscription's root, fragments followed (the document is known to be
/// within budget and without cycles; the depth guard is for safety only).
fn root_fields<'a>(doc: &'a ExecutableDocument, set: &'a SelectionSet, keys: &mut HashSet<&'a str>, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                keys.insert(f.node.response_key().node.as_str());
            }
            Selection::FragmentSpread(s) => {
                if let Some(def) = doc.fragments.get(&s.node.fragment_name.node) {
                    root_fields(doc, &def.node.selection_set.node, keys, depth + 1);
                }
            }
            Selection::InlineFragment(f) => root_fields(doc, &f.node.selection_set.node, keys, depth + 1),
        }
    }
}

/// `__typename` is a leaf without arguments (specification 5.3.3 and 5.4.1).
fn check_typename(set: &SelectionSet) -> Result<(), DocumentError> {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) if f.node.name.node == "__typename" => {
                if let Some((name, _)) = f.node.arguments.first() {
                    return Err(refuse(format!("unknown argument \"{}\" on field \"__typename\"", name.node)));
                }
                if !f.node.selection_set.node.items.is_empty() {
                    return Err(refuse(
                        "field \"__typename\" of type \"String!\" must not have a selection of subfields",
                    ));
                }
            }
            Selection::Field(f) => check_typename(&f.node.selection_set.node)?,
            Selection::InlineFragment(f) => check_typename(&f.node.selection_set.node)?,
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

/// `t: __typename @skip(if: $x)` becomes `... @skip(if: $x) { t: __typename }`: the same result,
/// and a selection async-graphql's validation does look at.
fn move_typename_directives(set: &mut SelectionSet) {
    for item in &mut set.items {
        let pos = item.pos;
        match &mut item.node {
            Selection::Field(f) if f.node.name.node == "__typename" && !f.node.directives.is_empty() => {
                let directives = std::mem::take(&mut f.node.directives);
                let field: Positioned<Field> = f.clone();
                item.node = Selection::InlineFragment(Positioned::new(
                    InlineFragment {
                        type_condition: None,
                        directives,
                        selection_set: Positioned::new(
                            SelectionSet { items: vec![Positioned::new(Selection::Field(field), pos)] },
                            pos,
                        ),
                    },
                    pos,
                ));
            }
            Selection::Field(f) => move_typename_directives(&mut f.node.selection_set.node),
            Selection::InlineFragment(f) => move_typename_directives(&mut f.node.selection_set.node),
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Scans, parses and checks a document: the one way a document enters the schema.
pub fn parse(query: &str) -> Result<(ExecutableDocument, Operations), DocumentError> {
    prescan(query)?;
    let mut doc = async_graphql::parser::parse_query(query).map_err(|e| refuse(format!("syntax error: {e}")))?;
    let operations = check(&mut doc)?;
    Ok((doc, operations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        for n in [2_000, 5_000, 10_000, 100_000] {
            let lists = format!("{{ offers(filter: {{ kinds: {} }}) {{ totalCount }} }}", nested("[", "]", n));
            assert!(parse(&lists).is_err_and(|e| e.0.contains("nests deeper")), "{n} brackets");
            let objects = format!("{{ offers(filter: {}) {{ totalCount }} }}", nested("{a:", "}", n));
            assert!(parse(&objects).is_err_and(|e| e.0.contains("nests deeper")), "{n} objects");
            let selections = nested("{ a ", "}", n);
            assert!(parse(&selections).is_err_and(|e| e.0.contains("nests deeper")), "{n} selections");
        }
        // Brackets inside strings, block strings and comments are text, not nesting.
        let text = format!(
            "{{ offers(filter: {{ text: \"{}\" }}) {{ totalCount }} }} # {}\n",
            "[".repeat(5000),
            "{".repeat(5000)
        );
        assert!(parse(&text).is_ok());
        let block =
            format!("{{ offers(filter: {{ text: \"\"\"{} \\\"\"\" \"\"\" }}) {{ totalCount }} }}", "(".repeat(5000));
        assert!(parse(&block).is_ok());
    }

    #[test]
    fn an_input_object_names_each_field_once() {
        let dup = "{ offers(filter: { text: \"a\", text: \"b\" }) { totalCount } }";
        assert!(prescan(dup).is_err_and(|e| e.0.contains("\"text\"")));
        assert!(prescan("query($f: OfferFilter = { kinds: [SITE], kinds: [EVENT] }) { a }").is_err());
        assert!(prescan("{ a(x: [{ k: 1 }, { k: 2 }]) { b } }").is_ok(), "one field per object");
        assert!(prescan("{ a(x: { k: { k: 1 } }) { b } }").is_ok(), "nested objects have their own names");
        assert!(prescan("{ a(x: { k: K, j: 1 }) { b } }").is_ok(), "an enum value is no field name");
        assert!(prescan("{ a(k: 1, k: 2) }").is_ok(), "repeated arguments are validation's to report");
    }

    #[test]
    fn fragment_bombs_are_refused_by_their_expanded_size() {
        for levels in [10, 20, 30, 40] {
            let mut doc = format!("query {{ ...F{levels} }} fragment F0 on Query {{ __typename }}");
            for i in 1..=levels {
                doc.push_str(&format!(" fragment F{i} on Query {{ ...F{} ...F{} }}", i - 1, i - 1));
            }
            assert!(parse(&doc).is_err_and(|e| e.0.contains("expanded")), "{levels} levels");
        }
        let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(parse(cycle).is_err_and(|e| e.0.contains("cycle")));
        let aliases: String = (0..20).map(|i| format!("a{i}: __typename ")).collect();
        let doc = format!("{{ ...F ...G }} fragment F on Query {{ {aliases} }} fragment G on Query {{ ...F }}");
        assert!(parse(&doc).is_err_and(|e| e.0.contains("aliases")));
    }

    #[test]
    fn the_rules_async_graphql_leaves_out() {
        assert!(parse("{ __typename(x: 1) }").is_err());
        assert!(parse("{ __typename { x } }").is_err());
        assert!(parse("subscription { a: offerChanged { id } b: offerChanged { id } }").is_err());
        assert!(parse("subscription { ...F } fragment F on Subscription { a: x b: y }").is_err());
        assert!(parse("subscription { offerChanged { id } offerChanged { version } }").is_ok());
        let (doc, ops) = parse("query Q($a: Boolean!) { t: __typename @skip(if: $a) }").expect("valid");
        assert_eq!(ops.kind(Some("Q")), Some(OperationType::Query));
        let DocumentOperations::Multiple(ops) = &doc.operations else { panic!("one named operation") };
        let items = &ops.values().next().expect("operation").node.selection_set.node.items;
        assert!(matches!(&items[0].node, Selection::InlineFragment(f) if f.node.directives.len() == 1));
    }
}
