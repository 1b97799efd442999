//! JSON that goes into a GraphQL answer as text this process wrote, with no value tree in
//! between: a geometry of a few thousand positions is serialised once, straight from its `geo`
//! value, where `Json<Value>` built a `serde_json::Value`, converted it into a GraphQL value and
//! only then wrote it (BENCHMARKS.md, profiles under load).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Json, Name, OutputType, Positioned, ServerResult, Value};
use async_graphql_value::RAW_VALUE_TOKEN;

/// A value of the `JSON` scalar given as its JSON text. The text must be JSON: only this
/// process's own serialisers make one (`RawJson::of`); should it not be, the answer holds it as a
/// string under a private key rather than invalid JSON.
#[derive(Debug, Clone)]
pub struct RawJson(String);

impl RawJson {
    /// The JSON text of a serialisable value (made by `serde_json`, so always valid).
    pub fn of(value: &impl serde::Serialize) -> RawJson {
        RawJson(serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()))
    }
}

impl OutputType for RawJson {
    fn type_name() -> Cow<'static, str> {
        <Json<serde_json::Value> as OutputType>::type_name()
    }

    /// The same `JSON` scalar as every other JSON field of the schema.
    fn create_type_info(registry: &mut Registry) -> String {
        <Json<serde_json::Value> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, _: &ContextSelectionSet<'_>, _: &Positioned<Field>) -> ServerResult<Value> {
        // async-graphql's `raw_value` feature writes an object whose only key is this token as
        // the string it holds, unparsed.
        let mut raw = IndexMap::with_capacity(1);
        raw.insert(Name::new(RAW_VALUE_TOKEN), Value::String(self.0.clone()));
        Ok(Value::Object(raw))
    }
}
