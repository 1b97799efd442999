//! Rule 5.8.5 of the GraphQL specification (All Variable Usages Are Allowed), which
//! async-graphql 7.2's validation does not enforce: a `String` variable passed where an `Int` is
//! expected ran, and a nullable variable into a non-null argument failed only at execution, even
//! when the argument has a default (which the rule allows). Checked here against the schema's
//! registry, each fragment once per operation.

use std::collections::{HashMap, HashSet};

use async_graphql::Name;
use async_graphql::Positioned;
use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, OperationDefinition, Selection, SelectionSet, Type,
};
use async_graphql::registry::{MetaInputValue, MetaType, Registry};
use async_graphql_value::Value;

use super::limits::DocumentError;

/// A type as the rule compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    /// Reads a registry type (`[OfferKind!]!`).
    fn parse(text: &str) -> Ty {
        if let Some(inner) = text.strip_suffix('!') {
            return Ty::NonNull(Box::new(Ty::parse(inner)));
        }
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return Ty::List(Box::new(Ty::parse(inner)));
        }
        Ty::Named(text.to_owned())
    }

    /// A variable's declared type.
    fn of(t: &Type) -> Ty {
        let base = match &t.base {
            BaseType::Named(n) => Ty::Named(n.to_string()),
            BaseType::List(inner) => Ty::List(Box::new(Ty::of(inner))),
        };
        if t.nullable { base } else { Ty::NonNull(Box::new(base)) }
    }

    fn name(&self) -> &str {
        match self {
            Ty::Named(n) => n,
            Ty::List(t) | Ty::NonNull(t) => t.name(),
        }
    }

    fn nullable(&self) -> &Ty {
        match self {
            Ty::NonNull(t) => t,
            t => t,
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Named(n) => write!(f, "{n}"),
            Ty::List(t) => write!(f, "[{t}]"),
            Ty::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

/// AreTypesCompatible (specification 5.8.5).
fn compatible(variable: &Ty, location: &Ty) -> bool {
    match (variable, location) {
        (Ty::NonNull(v), Ty::NonNull(l)) => compatible(v, l),
        (_, Ty::NonNull(_)) => false,
        (Ty::NonNull(v), l) => compatible(v, l),
        (Ty::List(v), Ty::List(l)) => compatible(v, l),
        (Ty::List(_), _) | (_, Ty::List(_)) => false,
        (Ty::Named(v), Ty::Named(l)) => v == l,
    }
}

/// A variable as its operation declares it.
struct Declared {
    ty: Ty,
    has_default: bool,
}

struct Check<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: HashMap<&'a str, Declared>,
    fragments_seen: HashSet<&'a str>,
}

impl<'a> Check<'a> {
    /// IsVariableUsageAllowed for the value at a location of type `location`.
    fn value(&self, value: &Value, location: &Ty, location_default: bool) -> Result<(), DocumentError> {
        match value {
            Value::Variable(name) => {
                let Some(declared) = self.variables.get(name.as_str()) else { return Ok(()) };
                let location = match location {
                    // A nullable variable may fill a non-null place that has a default (the
                    // variable's own or the place's).
                    Ty::NonNull(inner) if !matches!(declared.ty, Ty::NonNull(_)) => {
                        if declared.has_default || location_default { inner.as_ref() } else { location }
                    }
                    other => other,
                };
                if compatible(&declared.ty, location) {
                    Ok(())
                } else {
                    Err(DocumentError(format!(
                        "variable \"${name}\" of type \"{}\" used in position expecting type \"{location}\"",
                        declared.ty
                    )))
                }
            }
            Value::List(items) => match location.nullable() {
                Ty::List(item) => items.iter().try_for_each(|v| self.value(v, item, false)),
                _ => Ok(()),
            },
            Value::Object(fields) => {
                let Some(MetaType::InputObject { input_fields, .. }) = self.registry.types.get(location.name()) else {
                    return Ok(());
                };
                for (name, v) in fields {
                    if let Some(f) = input_fields.get(name.as_str()) {
                        self.value(v, &Ty::parse(&f.ty), f.default_value.is_some())?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn arguments<'b>(
        &self,
        args: impl Iterator<Item = (&'b Name, &'b Value)>,
        declared: &indexmap::IndexMap<String, MetaInputValue>,
    ) -> Result<(), DocumentError> {
        for (name, value) in args {
            if let Some(arg) = declared.get(name.as_str()) {
                self.value(value, &Ty::parse(&arg.ty), arg.default_value.is_some())?;
            }
        }
        Ok(())
    }

    fn directives(&self, directives: &[Positioned<Directive>]) -> Result<(), DocumentError> {
        for d in directives {
            if let Some(meta) = self.registry.directives.get(d.node.name.node.as_str()) {
                self.arguments(d.node.arguments.iter().map(|(n, v)| (&n.node, &v.node)), &meta.args)?;
            }
        }
        Ok(())
    }

    fn set(&mut self, set: &'a SelectionSet, on: &str) -> Result<(), DocumentError> {
        let parent = self.registry.types.get(on);
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    self.directives(&f.node.directives)?;
                    let Some(field) = parent.and_then(|t| t.field_by_name(&f.node.name.node)) else { continue };
                    self.arguments(f.node.arguments.iter().map(|(n, v)| (&n.node, &v.node)), &field.args)?;
                    let child = Ty::parse(&field.ty).name().to_owned();
                    self.set(&f.node.selection_set.node, &child)?;
                }
                Selection::InlineFragment(f) => {
                    self.directives(&f.node.directives)?;
                    let on = f.node.type_condition.as_ref().map_or(on, |c| c.node.on.node.as_str()).to_owned();
                    self.set(&f.node.selection_set.node, &on)?;
                }
                Selection::FragmentSpread(s) => {
                    self.directives(&s.node.directives)?;
                    let name = s.node.fragment_name.node.as_str();
                    if !self.fragments_seen.insert(name) {
                        continue;
                    }
                    if let Some(def) = self.doc.fragments.get(&s.node.fragment_name.node) {
                        self.directives(&def.node.directives)?;
                        let on = def.node.type_condition.node.on.node.to_string();
                        self.set(&def.node.selection_set.node, &on)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks every variable usage of every operation of a document against the schema.
pub fn variable_usages(registry: &Registry, doc: &ExecutableDocument) -> Result<(), DocumentError> {
    for (_, op) in doc.operations.iter() {
        let op: &OperationDefinition = &op.node;
        let root = match op.ty {
            async_graphql::parser::types::OperationType::Query => Some(registry.query_type.as_str()),
            async_graphql::parser::types::OperationType::Mutation => registry.mutation_type.as_deref(),
            async_graphql::parser::types::OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        let Some(root) = root else { continue };
        let variables = op
            .variable_definitions
            .iter()
            .map(|d| {
                (
                    d.node.name.node.as_str(),
                    Declared { ty: Ty::of(&d.node.var_type.node), has_default: d.node.default_value.is_some() },
                )
            })
            .collect();
        let mut check = Check { registry, doc, variables, fragments_seen: HashSet::new() };
        check.directives(&op.directives)?;
        check.set(&op.selection_set.node, root)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn refusal(doc: &str) -> Option<String> {
        let schema = super::super::build_schema(std::sync::Arc::default());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let response = rt.block_on(schema.execute(doc));
        response.errors.into_iter().map(|e| e.message).find(|m| m.contains("used in position expecting"))
    }

    #[test]
    fn variables_fit_where_they_are_used() {
        assert!(refusal("query($a: String) { totems { correlates(first: $a) { name } } }").is_some());
        assert!(refusal("query($a: Int) { commune(code: $a) { name } }").is_some());
        assert!(refusal("query($a: String) { commune(code: $a) { name } }").is_some(), "nullable into non-null");
        assert!(refusal("query($a: String = \"59632\") { commune(code: $a) { name } }").is_none(), "its default");
        assert!(refusal("query($a: Int) { totems { correlates(first: $a) { name } } }").is_none());
        assert!(refusal("query($k: OfferKind) { offers(filter: { kinds: [$k] }) { totalCount } }").is_some());
        assert!(refusal("query($k: OfferKind!) { offers(filter: { kinds: [$k] }) { totalCount } }").is_none());
        assert!(refusal("query($b: Int) { totems @skip(if: $b) { name } }").is_some(), "directive arguments too");
        assert!(
            refusal("query($b: Boolean!) { ...F } fragment F on Query { themes @skip(if: $b) { code } }").is_none()
        );
        assert!(refusal("query($b: String!) { ...F } fragment F on Query { themes @skip(if: $b) { code } }").is_some());
    }
}
