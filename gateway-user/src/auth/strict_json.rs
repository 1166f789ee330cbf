//! A JSON object that refuses duplicate member names.
//!
//! `serde_json::Map` keeps the last of two equal names silently; for claims
//! and keys that is an ambiguity an attacker can use against a second
//! parser, so we refuse it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// A top-level JSON object with unique member names.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct StrictObject(pub(super) serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = serde_json::Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate member {key:?}")));
                    }
                    let value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused() {
        let err = serde_json::from_str::<StrictObject>(r#"{"sub":"a","sub":"b"}"#)
            .expect_err("duplicate must fail");
        assert!(
            err.to_string().contains("duplicate member \"sub\""),
            "{err}"
        );
        let ok = serde_json::from_str::<StrictObject>(r#"{"sub":"a","x":{"y":1}}"#)
            .expect("unique members parse");
        assert_eq!(ok.0.len(), 2);
        assert!(serde_json::from_str::<StrictObject>("[1]").is_err());
    }
}
