//! Hostile schemas: every cost bound, remote references, unknown dialects.

use std::net::TcpListener;

use serde_json::{Value, json};

use super::{cache, tool};
use crate::validate::{SchemaCache, SchemaKind, ValidationError, ValidationLimits};

fn input_err(schema: Value) -> ValidationError {
    cache()
        .validate_arguments("up", &tool(schema), &json!({}))
        .expect_err("the schema must be refused")
}

fn too_complex(err: &ValidationError) -> &'static str {
    match err {
        ValidationError::SchemaTooComplex {
            which: SchemaKind::Input,
            what,
            ..
        } => what,
        other => panic!("expected SchemaTooComplex, got {other:?}"),
    }
}

#[test]
fn huge_schema_is_refused() {
    let props: serde_json::Map<String, Value> = (0..20_000)
        .map(|i| (format!("p{i}"), json!({"type": "string"})))
        .collect();
    let err = input_err(json!({"type": "object", "properties": props}));
    assert_eq!(too_complex(&err), "size in bytes");
}

#[test]
fn deeply_nested_schema_is_refused() {
    let mut s = json!({"type": "string"});
    for _ in 0..40 {
        s = json!({"properties": {"a": s}});
    }
    assert_eq!(too_complex(&input_err(s)), "nesting depth");
}

#[test]
fn too_many_subschemas_are_refused() {
    let props: serde_json::Map<String, Value> =
        (0..5000).map(|i| (format!("{i}"), json!({}))).collect();
    assert_eq!(
        too_complex(&input_err(json!({"properties": props}))),
        "subschema count"
    );
}

#[test]
fn combinator_explosion_is_refused() {
    let branches: Vec<Value> = (0..300).map(|i| json!({"const": i})).collect();
    assert_eq!(
        too_complex(&input_err(json!({"anyOf": branches}))),
        "combinator count"
    );
    let nots = json!({"not": {"not": {"not": {"not": {}}}}});
    let limits = ValidationLimits {
        max_combinators: 3,
        ..Default::default()
    };
    let err = SchemaCache::new(limits)
        .validate_arguments("up", &tool(nots), &json!({}))
        .expect_err("nots");
    assert_eq!(too_complex(&err), "combinator count");
}

#[test]
fn exponential_ref_fan_out_is_refused() {
    // 30 definitions, each referring twice to the next: 2^30 paths from
    // ~100 nodes.
    let mut defs = serde_json::Map::new();
    for i in 0..30 {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(
            format!("d{i}"),
            json!({"anyOf": [{"$ref": next}, {"$ref": next}]}),
        );
    }
    defs.insert("d30".into(), json!({"type": "string"}));
    let err = input_err(json!({"$defs": defs, "$ref": "#/$defs/d0"}));
    assert_eq!(too_complex(&err), "expanded subschema count");
}

#[test]
fn long_and_oversized_patterns_are_refused() {
    let err =
        input_err(json!({"properties": {"a": {"type": "string", "pattern": "a".repeat(2000)}}}));
    assert_eq!(too_complex(&err), "pattern length in bytes");
    let err = input_err(json!({"patternProperties": {"b".repeat(2000): {}}}));
    assert_eq!(too_complex(&err), "pattern length in bytes");
    // Short text, enormous compiled program: refused by the regex size
    // limit (and only by it: a far larger limit compiles it).
    let bomb = json!({"properties": {"a": {"type": "string", "pattern": "((\\w{100}){100}){10}"}}});
    let err = input_err(bomb.clone());
    assert!(
        matches!(err, ValidationError::SchemaInvalid { ref path, .. } if path == "/properties/a/pattern"),
        "{err:?}"
    );
    let lax = SchemaCache::new(ValidationLimits {
        regex_size_limit: 1 << 30,
        ..Default::default()
    });
    lax.validate_arguments("up", &tool(bomb), &json!({}))
        .expect("compiles without the bound");
}

#[test]
fn remote_refs_are_refused_without_any_fetch() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let file = std::env::temp_dir().join("portcullis-ref-test.json");
    std::fs::write(&file, r#"{"type":"string"}"#).expect("write");
    let refs = [
        format!("http://127.0.0.1:{port}/schema.json"),
        format!("https://127.0.0.1:{port}/schema.json#/x"),
        format!("file://{}", file.display()),
        "other.json".to_owned(),
        "//127.0.0.1/x".to_owned(),
    ];
    for r in &refs {
        for keyword in ["$ref", "$dynamicRef"] {
            let err = input_err(json!({"properties": {"a": {keyword: r}}}));
            assert_eq!(
                err,
                ValidationError::RemoteRef {
                    which: SchemaKind::Input
                },
                "{r}"
            );
            assert!(err.to_string().contains("never fetched"));
        }
    }
    // A remote meta-schema is refused too.
    let err = input_err(json!({"$schema": format!("http://127.0.0.1:{port}/meta")}));
    assert_eq!(
        err,
        ValidationError::UnsupportedDialect {
            which: SchemaKind::Input
        }
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the validator connected to the listener: {other:?}"),
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn the_compiler_retriever_refuses_too() {
    // Bypass the guard to check the second wall. Control: the same
    // schema compiles when a retriever serves the reference, so the
    // refusal below comes from ours.
    struct Serve;
    impl jsonschema::Retrieve for Serve {
        fn retrieve(
            &self,
            _: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            Ok(json!({"type": "string"}))
        }
    }
    let schema = json!({"properties": {"a": {"$ref": "https://127.0.0.1:9/x.json"}}});
    let served = jsonschema::options()
        .with_retriever(Serve)
        .build(&schema)
        .expect("served");
    assert!(!served.is_valid(&json!({"a": 1})));
    let limits = ValidationLimits::default();
    let err = crate::validate::compile::build(
        &schema,
        jsonschema::Draft::Draft202012,
        &limits,
        SchemaKind::Input,
    )
    .expect_err("refused");
    assert!(
        matches!(err, ValidationError::SchemaInvalid { .. }),
        "{err:?}"
    );
}

#[test]
fn unknown_dialects_are_refused() {
    for bad in [
        json!("https://example.invalid/my-meta"),
        json!(7),
        json!("json-schema.org/draft-07/schema"),
    ] {
        let err = input_err(json!({"$schema": bad}));
        assert_eq!(
            err,
            ValidationError::UnsupportedDialect {
                which: SchemaKind::Input
            }
        );
    }
}

#[test]
fn nested_unknown_dialect_is_refused() {
    let err = input_err(
        json!({"properties": {"a": {"$schema": "https://127.0.0.1:9/meta", "type": "string"}}}),
    );
    assert_eq!(
        err,
        ValidationError::UnsupportedDialect {
            which: SchemaKind::Input
        }
    );
}
