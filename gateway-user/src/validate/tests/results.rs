use serde_json::{Value, json};

use super::{cache, tool_with_output};
use crate::validate::{SchemaCache, ValidationError, ValidationLimits};

fn plain() -> Value {
    json!({"name": "t", "inputSchema": {"type": "object"}})
}

fn check(result: Value) -> Result<(), ValidationError> {
    cache().validate_result("up", &plain(), &result)
}

fn reason(result: Value) -> &'static str {
    match check(result) {
        Err(ValidationError::ResultMalformed { reason, .. }) => reason,
        other => panic!("expected ResultMalformed, got {other:?}"),
    }
}

#[test]
fn well_formed_results_pass() {
    check(json!({"content": []})).expect("empty");
    check(json!({
        "content": [
            {"type": "text", "text": "hi", "annotations": {"audience": ["user"]}},
            {"type": "image", "data": "aGk=", "mimeType": "image/png"},
            {"type": "audio", "data": "aGk=", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///x", "name": "x"},
            {"type": "resource", "resource": {"uri": "file:///y", "text": "y"}},
            {"type": "resource", "resource": {"uri": "file:///z", "blob": "eg=="}}
        ],
        "isError": false,
        "structuredContent": {"a": 1},
        "_meta": {}
    }))
    .expect("all block types");
}

#[test]
fn malformed_results_are_refused_with_a_reason() {
    assert_eq!(reason(json!([])), "the result is not an object");
    assert_eq!(reason(json!({})), "content is missing");
    assert_eq!(reason(json!({"content": {}})), "content is not an array");
    assert_eq!(
        reason(json!({"content": [1]})),
        "a content block is not an object"
    );
    assert_eq!(
        reason(json!({"content": [{"text": "x"}]})),
        "a content block has no type"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "video", "data": "x"}]})),
        "a content block has an unknown type"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "text"}]})),
        "a text block needs a string text"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "text", "text": 5}]})),
        "a text block needs a string text"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "image", "data": "x"}]})),
        "a media block needs a string mimeType"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "audio", "mimeType": "a/b"}]})),
        "a media block needs string data"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "resource_link", "uri": "u"}]})),
        "a resource link needs a string name"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "resource"}]})),
        "an embedded resource has no resource object"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "resource", "resource": {"text": "x"}}]})),
        "a resource needs a string uri"
    );
    assert_eq!(
        reason(
            json!({"content": [{"type": "resource", "resource": {"uri": "u", "text": "x", "blob": "y"}}]})
        ),
        "an embedded resource needs exactly one of text or blob, as a string"
    );
    assert_eq!(
        reason(json!({"content": [{"type": "text", "text": "x", "annotations": 1}]})),
        "annotations and _meta must be objects"
    );
    assert_eq!(
        reason(json!({"content": [], "isError": "yes"})),
        "isError is not a boolean"
    );
    assert_eq!(
        reason(json!({"content": [], "structuredContent": [1]})),
        "structuredContent is not an object"
    );
    assert_eq!(
        reason(json!({"content": [], "_meta": "x"})),
        "annotations and _meta must be objects"
    );
}

#[test]
fn malformed_result_names_the_block() {
    let err = check(json!({"content": [{"type": "text", "text": "a"}, {"type": "nope"}]}))
        .expect_err("bad");
    assert!(
        matches!(err, ValidationError::ResultMalformed { ref path, .. } if path == "/content/1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("/content/1"));
}

#[test]
fn oversized_results_are_refused() {
    let c = SchemaCache::new(ValidationLimits {
        max_result_bytes: 1000,
        max_content_blocks: 3,
        max_result_depth: 5,
        ..Default::default()
    });
    let big = json!({"content": [{"type": "text", "text": "x".repeat(2000)}]});
    let err = c.validate_result("up", &plain(), &big).expect_err("size");
    assert!(
        matches!(err, ValidationError::ResultTooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    let many = json!({"content": vec![json!({"type": "text", "text": ""}); 4]});
    let err = c.validate_result("up", &plain(), &many).expect_err("count");
    assert!(
        matches!(err, ValidationError::ResultTooLarge { limit: 3, .. }),
        "{err:?}"
    );
    let deep = json!({"content": [], "structuredContent": {"a": {"b": {"c": {"d": {}}}}}});
    let err = c.validate_result("up", &plain(), &deep).expect_err("depth");
    assert!(
        matches!(err, ValidationError::ResultTooLarge { limit: 5, .. }),
        "{err:?}"
    );
}

#[test]
fn structured_content_is_checked_against_output_schema() {
    let t = tool_with_output(json!({
        "type": "object",
        "properties": {"temp": {"type": "number"}},
        "required": ["temp"]
    }));
    let c = cache();
    c.validate_result(
        "up",
        &t,
        &json!({"content": [], "structuredContent": {"temp": 21.5}}),
    )
    .expect("matches");
    let err = c
        .validate_result(
            "up",
            &t,
            &json!({"content": [], "structuredContent": {"temp": "hot"}}),
        )
        .expect_err("mismatch");
    assert_eq!(
        err,
        ValidationError::OutputInvalid {
            keyword: "type".into(),
            path: "/temp".into()
        }
    );
    let err = c
        .validate_result(
            "up",
            &t,
            &json!({"content": [{"type": "text", "text": "21.5"}]}),
        )
        .expect_err("missing");
    assert_eq!(err, ValidationError::MissingStructuredContent);
    // An error result need not carry structured content.
    c.validate_result(
        "up",
        &t,
        &json!({"content": [{"type": "text", "text": "boom"}], "isError": true}),
    )
    .expect("error result");
    // Without an outputSchema, structuredContent is only shape-checked.
    c.validate_result(
        "up",
        &plain(),
        &json!({"content": [], "structuredContent": {"any": 1}}),
    )
    .expect("no schema");
}

#[test]
fn hostile_output_schema_is_refused() {
    let t = tool_with_output(json!({"properties": {"a": {"$ref": "https://127.0.0.1:9/x"}}}));
    let err = cache()
        .validate_result("up", &t, &json!({"content": [], "structuredContent": {}}))
        .expect_err("remote");
    assert_eq!(
        err,
        ValidationError::RemoteRef {
            which: crate::validate::SchemaKind::Output
        }
    );
}
