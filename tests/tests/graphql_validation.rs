//! Section 5 (Validation) of the GraphQL specification (October 2021), one test per rule: a
//! document that breaks the rule is answered with a validation error and no data, over HTTP
//! with `application/graphql-response+json` (so a 400). A valid twin of each shows the refusal
//! is the rule's, not the document's shape.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tests::TestServer;

async fn ask(server: &TestServer, doc: &str, variables: Value) -> (u16, Value) {
    let res = server
        .client
        .post(format!("{}/graphql", server.url))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": doc, "variables": variables }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// `invalid` is refused as a request error naming `why`; `valid` runs.
async fn rule(invalid: &str, why: &str, valid: &str) {
    let server = TestServer::start().await;
    let (status, body) = ask(&server, invalid, json!({})).await;
    assert_eq!(status, 400, "{invalid}: {body}");
    assert!(body.get("data").is_none(), "{invalid}: no data on a validation error: {body}");
    let messages: Vec<String> =
        body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_lowercase()).collect();
    assert!(messages.iter().any(|m| m.contains(&why.to_lowercase())), "{invalid}: {messages:?} should say {why:?}");
    assert!(body["errors"].as_array().unwrap().iter().all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"), "{body}");
    let (status, body) = ask(&server, valid, json!({ "b": true })).await;
    assert_eq!(status, 200, "{valid}: {body}");
    assert!(body.get("errors").is_none(), "{valid}: {body}");
}

#[tokio::test]
async fn r5_1_1_executable_definitions() {
    rule("query { __typename } type Foo { a: String }", "executable_definition", "query { __typename }").await;
}

#[tokio::test]
async fn r5_2_1_1_operation_name_uniqueness() {
    rule("query A { __typename } query A { __typename }", "defined twice", "query A { __typename }").await;
}

#[tokio::test]
async fn r5_2_2_1_lone_anonymous_operation() {
    rule("{ __typename } query B { __typename }", "multiple operations", "query A { __typename }").await;
}

#[tokio::test]
async fn r5_2_3_1_single_root_field() {
    rule("subscription { a: offerChanged { id } b: offerChanged { id } }", "exactly one root field", "{ __typename }")
        .await;
}

#[tokio::test]
async fn r5_3_1_field_selections() {
    rule("{ nope }", "unknown field", "{ themes { code } }").await;
}

#[tokio::test]
async fn r5_3_2_field_selection_merging() {
    rule("{ totems { a: name a: slug } }", "conflict", "{ totems { a: name b: slug } }").await;
}

#[tokio::test]
async fn r5_3_3_leaf_field_selections() {
    rule("{ totems }", "must have a selection", "{ totems { slug } }").await;
    rule("{ __typename { x } }", "must not have a selection", "{ __typename }").await;
}

#[tokio::test]
async fn r5_4_1_argument_names() {
    rule("{ totems(nope: 1) { name } }", "unknown argument", "{ totems(lang: EN) { name } }").await;
    rule("{ __typename(nope: 1) }", "unknown argument", "{ __typename }").await;
    rule(
        "{ totems @skip(nope: true, if: false) { name } }",
        "unknown argument",
        "{ totems @skip(if: false) { name } }",
    )
    .await;
}

#[tokio::test]
async fn r5_4_2_argument_uniqueness() {
    rule(
        "{ commune(code: \"59632\", code: \"59491\") { name } }",
        "only be one argument",
        "{ commune(code: \"59632\") { name } }",
    )
    .await;
}

#[tokio::test]
async fn r5_4_2_1_required_arguments() {
    rule("{ commune { name } }", "is required", "{ commune(code: \"59632\") { name } }").await;
    rule("{ totems @include { name } }", "is required", "{ totems @include(if: true) { name } }").await;
}

#[tokio::test]
async fn r5_5_1_1_fragment_name_uniqueness() {
    rule(
        "{ ...F } fragment F on Query { __typename } fragment F on Query { __typename }",
        "defined twice",
        "{ ...F } fragment F on Query { __typename }",
    )
    .await;
}

#[tokio::test]
async fn r5_5_1_2_fragment_spread_type_existence() {
    rule("{ ...F } fragment F on Nope { __typename }", "unknown type", "{ ...F } fragment F on Query { __typename }")
        .await;
}

#[tokio::test]
async fn r5_5_1_3_fragments_on_composite_types() {
    rule(
        "{ ...F } fragment F on String { __typename }",
        "non composite",
        "{ ...F } fragment F on Query { __typename }",
    )
    .await;
}

#[tokio::test]
async fn r5_5_1_4_fragments_must_be_used() {
    rule(
        "{ __typename } fragment F on Query { __typename }",
        "never used",
        "{ ...F } fragment F on Query { __typename }",
    )
    .await;
}

#[tokio::test]
async fn r5_5_2_1_fragment_spread_target_defined() {
    rule("{ ...Missing }", "unknown fragment", "{ ...F } fragment F on Query { __typename }").await;
}

#[tokio::test]
async fn r5_5_2_2_fragment_spreads_must_not_form_cycles() {
    rule(
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "cycle",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename }",
    )
    .await;
}

#[tokio::test]
async fn r5_5_2_3_fragment_spread_is_possible() {
    rule(
        "{ totems { ...F } } fragment F on Theme { code }",
        "can never be of type",
        "{ themes { ...F } } fragment F on Theme { code }",
    )
    .await;
}

#[tokio::test]
async fn r5_6_1_values_of_correct_type() {
    rule("{ commune(code: 59632) { name } }", "expected type", "{ commune(code: \"59632\") { name } }").await;
    rule("{ totems @skip(if: 3) { name } }", "expected type", "{ totems @skip(if: false) { name } }").await;
}

#[tokio::test]
async fn r5_6_2_input_object_field_names() {
    rule(
        "{ offers(filter: { nope: 1 }) { totalCount } }",
        "unknown field",
        "{ offers(filter: { text: \"cite\" }) { totalCount } }",
    )
    .await;
}

#[tokio::test]
async fn r5_6_3_input_object_field_uniqueness() {
    rule(
        "{ offers(filter: { text: \"a\", text: \"b\" }) { totalCount } }",
        "more than once",
        "{ offers(filter: { text: \"cite\" }) { totalCount } }",
    )
    .await;
}

#[tokio::test]
async fn r5_6_4_input_object_required_fields() {
    rule(
        "{ offers(filter: { near: { lat: 50.38 } }) { totalCount } }",
        "is required",
        "{ offers(filter: { near: { lat: 50.38, lon: 3.42 } }) { totalCount } }",
    )
    .await;
}

#[tokio::test]
async fn r5_7_1_directives_are_defined() {
    rule("{ __typename @unknownDirective }", "unknown directive", "{ __typename @skip(if: false) }").await;
    rule("{ totems @unknownDirective { name } }", "unknown directive", "{ totems @include(if: true) { name } }").await;
}

#[tokio::test]
async fn r5_7_2_directives_are_in_valid_locations() {
    rule("query @skip(if: true) { __typename }", "may not be used", "query { __typename @skip(if: true) }").await;
}

#[tokio::test]
async fn r5_7_3_directives_are_unique_per_location() {
    rule(
        "{ totems @skip(if: false) @skip(if: false) { name } }",
        "duplicate directive",
        "{ totems @skip(if: false) @include(if: true) { name } }",
    )
    .await;
    rule("{ __typename @skip(if: false) @skip(if: false) }", "duplicate directive", "{ __typename @skip(if: false) }")
        .await;
}

#[tokio::test]
async fn r5_8_1_variable_uniqueness() {
    rule(
        "query($a: Int, $a: Int) { totems { correlates(first: $a) { name } } }",
        "only be one variable",
        "query($a: Int) { totems { correlates(first: $a) { name } } }",
    )
    .await;
}

#[tokio::test]
async fn r5_8_2_variables_are_input_types() {
    rule("query($a: Offer) { __typename }", "non-input type", "query($b: Boolean!) { __typename @skip(if: $b) }").await;
}

#[tokio::test]
async fn r5_8_3_all_variable_uses_defined() {
    rule(
        "{ totems { correlates(first: $a) { name } } }",
        "not defined",
        "query($b: Boolean!) { totems @include(if: $b) { name } }",
    )
    .await;
}

#[tokio::test]
async fn r5_8_4_all_variables_used() {
    // A variable used only by a directive of `__typename` is used.
    rule("query($a: Int) { __typename }", "not used", "query($b: Boolean!) { __typename @skip(if: $b) }").await;
}

#[tokio::test]
async fn r5_8_5_all_variable_usages_are_allowed() {
    rule(
        "query($a: String) { totems { correlates(first: $a) { name } } }",
        "used in position expecting",
        "query($a: Int) { totems { correlates(first: $a) { name } } }",
    )
    .await;
    // A nullable variable may go where a non-null argument has a default, not elsewhere.
    rule(
        "query($b: Boolean) { totems @skip(if: $b) { name } }",
        "used in position expecting",
        "query($b: Boolean = false) { totems @skip(if: $b) { name } }",
    )
    .await;
}
