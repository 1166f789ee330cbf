//! Canonical JSON (object keys sorted, no whitespace) and its SHA-256.
//! Written without recursion, so any parsed value is safe to hash.

use ring::digest;
use serde_json::Value;

enum Step<'a> {
    Value(&'a Value),
    Key(&'a str),
    Raw(&'static str),
}

/// The canonical JSON text of `value`: compact, object keys in byte order,
/// strings and numbers as serde_json writes them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    let mut stack = vec![Step::Value(value)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Raw(s) => out.extend_from_slice(s.as_bytes()),
            Step::Key(k) => {
                push_json(&mut out, k);
                out.push(b':');
            }
            Step::Value(Value::Array(items)) => {
                out.push(b'[');
                stack.push(Step::Raw("]"));
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push(Step::Value(item));
                    if i > 0 {
                        stack.push(Step::Raw(","));
                    }
                }
            }
            Step::Value(Value::Object(map)) => {
                out.push(b'{');
                stack.push(Step::Raw("}"));
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (k, v)) in entries.into_iter().enumerate().rev() {
                    stack.push(Step::Value(v));
                    stack.push(Step::Key(k));
                    if i > 0 {
                        stack.push(Step::Raw(","));
                    }
                }
            }
            Step::Value(Value::String(s)) => push_json(&mut out, s),
            Step::Value(scalar) => push_json(&mut out, scalar),
        }
    }
    // serde_json writes valid UTF-8 and the rest is ASCII punctuation.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the JSON text of a string or scalar (never fails for these).
fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// Lowercase hex SHA-256 of the canonical JSON of `value`.
pub fn canonical_hash(value: &Value) -> String {
    sha256_hex(canonical_json(value).as_bytes())
}

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = digest::digest(&digest::SHA256, bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.as_ref() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: [u8; 16] = *b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": null, "c": "x"}], "x": true}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":true,"y":[1,{"c":"x","d":null}]},"b":1}"#
        );
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"name":"t","description":"d"}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"description":"d","name":"t"}"#).expect("json");
        let c = json!({"name": "t", "description": "e"});
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
        assert_ne!(canonical_hash(&a), canonical_hash(&c));
        assert_eq!(canonical_hash(&a).len(), 64);
        // SHA-256 of the empty object `{}`.
        assert_eq!(
            canonical_hash(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(canonical_json(&json!({"k\"": "a\nb"})), r#"{"k\"":"a\nb"}"#);
    }

    #[test]
    fn deep_values_do_not_overflow_the_stack() {
        let mut v = json!(1);
        for _ in 0..10_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(canonical_json(&v).len(), 20_001);
        // Dropping a deep Value recurses in serde_json; leak it instead.
        std::mem::forget(v);
    }
}
