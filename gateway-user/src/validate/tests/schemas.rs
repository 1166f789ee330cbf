//! Arguments against valid schemas, references, dialects and the cache.

use serde_json::{Value, json};

use super::{cache, tool};
use crate::validate::{SchemaCache, SchemaKind, ValidationError, ValidationLimits};

fn person() -> Value {
    tool(json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"],
        "additionalProperties": false
    }))
}

fn input_err(schema: Value) -> ValidationError {
    cache()
        .validate_arguments("up", &tool(schema), &json!({}))
        .expect_err("the schema must be refused")
}

#[test]
fn valid_arguments_pass() {
    let c = cache();
    c.validate_arguments("up", &person(), &json!({"name": "ada", "age": 36}))
        .expect("valid");
    c.validate_arguments("up", &person(), &json!({"name": "ada"}))
        .expect("valid");
}

#[test]
fn invalid_arguments_name_keyword_and_path() {
    let c = cache();
    let err = c
        .validate_arguments("up", &person(), &json!({"name": "ada", "age": -1}))
        .expect_err("minimum");
    assert_eq!(
        err,
        ValidationError::ArgumentsInvalid {
            keyword: "minimum".into(),
            path: "/age".into()
        }
    );
    let err = c
        .validate_arguments("up", &person(), &json!({}))
        .expect_err("required");
    assert!(
        matches!(err, ValidationError::ArgumentsInvalid { ref keyword, .. } if keyword == "required")
    );
    let err = c
        .validate_arguments("up", &person(), &json!({"name": "a", "x": 1}))
        .expect_err("additional");
    assert!(
        matches!(err, ValidationError::ArgumentsInvalid { ref keyword, .. } if keyword == "additionalProperties")
    );
}

#[test]
fn error_messages_do_not_echo_values() {
    let secret = "s3cr3t-".repeat(1000);
    let err = cache()
        .validate_arguments("up", &person(), &json!({"name": 1, "age": secret}))
        .expect_err("type");
    let msg = err.to_string();
    assert!(!msg.contains("s3cr3t"), "{msg}");
    assert!(msg.len() < 200, "{msg}");
    // Long, control-laden property names are shortened in paths.
    let key = format!("\u{1b}[31m{}", "k".repeat(500));
    let schema = tool(json!({"additionalProperties": {"type": "string"}}));
    let err = cache()
        .validate_arguments("up", &schema, &json!({ key: 1 }))
        .expect_err("type");
    let msg = err.to_string();
    assert!(msg.len() < 250 && !msg.contains('\u{1b}'), "{msg}");
}

#[test]
fn absent_arguments_are_an_empty_object_and_non_objects_are_refused() {
    let c = cache();
    let err = c
        .validate_arguments("up", &person(), &Value::Null)
        .expect_err("required");
    assert!(matches!(err, ValidationError::ArgumentsInvalid { .. }));
    c.validate_arguments("up", &tool(json!({"type": "object"})), &Value::Null)
        .expect("empty ok");
    for bad in [json!([1]), json!("x"), json!(3)] {
        assert_eq!(
            c.validate_arguments("up", &person(), &bad),
            Err(ValidationError::ArgumentsNotObject)
        );
    }
}

#[test]
fn oversized_or_deep_arguments_are_refused() {
    let limits = ValidationLimits {
        max_argument_bytes: 100,
        max_argument_depth: 3,
        ..Default::default()
    };
    let c = SchemaCache::new(limits);
    let t = tool(json!({"type": "object"}));
    let err = c
        .validate_arguments("up", &t, &json!({"a": "x".repeat(200)}))
        .expect_err("size");
    assert!(
        matches!(err, ValidationError::ArgumentsTooLarge { limit: 100, .. }),
        "{err:?}"
    );
    let err = c
        .validate_arguments("up", &t, &json!({"a": [[[1]]]}))
        .expect_err("depth");
    assert!(
        matches!(err, ValidationError::ArgumentsTooLarge { limit: 3, .. }),
        "{err:?}"
    );
    c.validate_arguments("up", &t, &json!({"a": [[1]]}))
        .expect("within bounds");
}

#[test]
fn tool_without_input_schema_is_refused() {
    let err = cache()
        .validate_arguments("up", &json!({"name": "t"}), &json!({}))
        .expect_err("no schema");
    assert_eq!(err, ValidationError::BadToolDefinition("no inputSchema"));
    let err = cache()
        .validate_arguments("up", &json!({"inputSchema": {}}), &json!({}))
        .expect_err("no name");
    assert_eq!(err, ValidationError::BadToolDefinition("no name"));
    let err = input_err(json!(true));
    assert!(matches!(err, ValidationError::BadToolDefinition(_)));
}

#[test]
fn patterns_work_and_property_names_called_pattern_are_not_patterns() {
    let t = tool(json!({
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "pattern": {"type": "string"}
        }
    }));
    let c = cache();
    c.validate_arguments("up", &t, &json!({"code": "ABC", "pattern": "x"}))
        .expect("ok");
    let err = c
        .validate_arguments("up", &t, &json!({"code": "abcd"}))
        .expect_err("pattern");
    assert!(
        matches!(err, ValidationError::ArgumentsInvalid { ref keyword, .. } if keyword == "pattern")
    );
}

#[test]
fn local_refs_resolve_and_unresolved_ones_are_refused() {
    let t = tool(json!({
        "$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "n": {"type": "integer"}}}},
        "properties": {"root": {"$ref": "#/$defs/node"}, "alias": {"$ref": "#named"}},
        "$comment": "anchors too",
        "allOf": [{"$anchor": "named", "type": "object"}]
    }));
    let c = cache();
    c.validate_arguments(
        "up",
        &t,
        &json!({"root": {"kids": [{"n": 1}, {"kids": []}]}}),
    )
    .expect("ok");
    let err = c
        .validate_arguments("up", &t, &json!({"root": {"kids": [{"n": "x"}]}}))
        .expect_err("type");
    assert_eq!(
        err,
        ValidationError::ArgumentsInvalid {
            keyword: "type".into(),
            path: "/root/kids/0/n".into()
        }
    );
    let err = input_err(json!({"properties": {"a": {"$ref": "#/$defs/missing"}}}));
    assert_eq!(
        err,
        ValidationError::UnresolvedRef {
            which: SchemaKind::Input
        }
    );
    let err = input_err(json!({"properties": {"a": {"$ref": "#nowhere"}}}));
    assert_eq!(
        err,
        ValidationError::UnresolvedRef {
            which: SchemaKind::Input
        }
    );
}

#[test]
fn refs_inside_data_keywords_are_data() {
    let t = tool(
        json!({"properties": {"a": {"enum": [{"$ref": "http://x/"}]}}, "default": {"$ref": "http://y/"}}),
    );
    let c = cache();
    c.validate_arguments("up", &t, &json!({"a": {"$ref": "http://x/"}}))
        .expect("enum data");
    assert!(c.validate_arguments("up", &t, &json!({"a": 1})).is_err());
}

#[test]
fn draft_07_and_2020_12_differ_as_specified() {
    // `prefixItems` is a 2020-12 keyword; draft-07 ignores it.
    let schema = |draft: Option<&str>| {
        let mut s =
            json!({"properties": {"xs": {"type": "array", "prefixItems": [{"type": "string"}]}}});
        if let Some(d) = draft {
            s["$schema"] = json!(d);
        }
        tool(s)
    };
    let args = json!({"xs": [1]});
    let c = cache();
    assert!(
        c.validate_arguments("up", &schema(None), &args).is_err(),
        "default is 2020-12"
    );
    let modern = schema(Some("https://json-schema.org/draft/2020-12/schema"));
    assert!(c.validate_arguments("up", &modern, &args).is_err());
    let old = schema(Some("http://json-schema.org/draft-07/schema#"));
    c.validate_arguments("up", &old, &args)
        .expect("draft-07 ignores prefixItems");
    // Array-form `items` is tuple validation in draft-07 and invalid in 2020-12.
    let tuple = |d: &str| {
        tool(json!({"$schema": d, "properties": {"xs": {"items": [{"type": "string"}]}}}))
    };
    let err = c
        .validate_arguments(
            "up",
            &tuple("http://json-schema.org/draft-07/schema#"),
            &args,
        )
        .expect_err("tuple");
    assert!(matches!(err, ValidationError::ArgumentsInvalid { .. }));
    let err = c
        .validate_arguments(
            "up2",
            &tuple("https://json-schema.org/draft/2020-12/schema"),
            &args,
        )
        .expect_err("invalid schema");
    assert!(
        matches!(err, ValidationError::SchemaInvalid { .. }),
        "{err:?}"
    );
}

#[test]
fn schemas_compile_once_per_version() {
    let c = cache();
    let v1 = tool(json!({"properties": {"a": {"type": "string"}}}));
    let v2 = tool(json!({"properties": {"a": {"type": "integer"}}}));
    c.validate_arguments("up", &v1, &json!({"a": "x"}))
        .expect("v1");
    c.validate_arguments("up", &v1, &json!({"a": "y"}))
        .expect("v1 again");
    assert_eq!(c.len(), 1);
    // Same name, new schema: recompiled, old version replaced.
    assert!(c.validate_arguments("up", &v2, &json!({"a": "x"})).is_err());
    c.validate_arguments("up", &v2, &json!({"a": 1}))
        .expect("v2");
    assert_eq!(c.len(), 1);
    // Another upstream's tool of the same name is separate.
    c.validate_arguments("other", &v1, &json!({"a": "x"}))
        .expect("other upstream");
    assert_eq!(c.len(), 2);
    // Failures are cached as well and keep failing.
    let bad = tool(json!({"type": 12}));
    for _ in 0..2 {
        let err = c.validate_arguments(
            "up",
            &json!({"name": "b", "inputSchema": bad["inputSchema"]}),
            &json!({}),
        );
        assert!(
            matches!(err, Err(ValidationError::SchemaInvalid { .. })),
            "{err:?}"
        );
    }
    assert_eq!(c.len(), 3);
}

#[test]
fn cache_is_bounded() {
    let c = SchemaCache::new(ValidationLimits {
        max_cached_schemas: 2,
        ..Default::default()
    });
    for i in 0..5 {
        let t = json!({"name": format!("t{i}"), "inputSchema": {"type": "object"}});
        c.validate_arguments("up", &t, &json!({})).expect("valid");
        assert!(c.len() <= 2);
    }
}

#[test]
fn limits_parse_strictly_with_defaults() {
    let l: ValidationLimits =
        serde_json::from_value(json!({"max_schema_depth": 8})).expect("parse");
    assert_eq!(l.max_schema_depth, 8);
    assert_eq!(
        l.max_schema_bytes,
        ValidationLimits::default().max_schema_bytes
    );
    let err = serde_json::from_value::<ValidationLimits>(json!({"max_schema_dept": 8}))
        .expect_err("typo");
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn check_tool_compiles_both_schemas_ahead_of_calls() {
    let c = cache();
    let good =
        json!({"name": "g", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}});
    c.check_tool("up", &good).expect("fine");
    assert_eq!(c.len(), 2);
    let bad_output = json!({"name": "b", "inputSchema": {"type": "object"}, "outputSchema": {"$ref": "http://x/"}});
    assert_eq!(
        c.check_tool("up", &bad_output),
        Err(ValidationError::RemoteRef {
            which: SchemaKind::Output
        })
    );
    assert_eq!(
        c.check_tool("up", &json!({"name": "n"})),
        Err(ValidationError::BadToolDefinition("no inputSchema"))
    );
}
