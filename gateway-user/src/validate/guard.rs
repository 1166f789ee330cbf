//! Checks a schema against the cost bounds before the compiler sees it:
//! size, depth, node and combinator counts, pattern lengths, references
//! (local only) and the expansion through `$ref`, plus the dialect.

use std::collections::HashMap;

use jsonschema::Draft;
use serde_json::Value;

use super::{SchemaKind, ValidationError, ValidationLimits, measure};

/// Keywords whose values are data, not subschemas: never inspected.
const DATA_KEYWORDS: [&str; 4] = ["enum", "const", "default", "examples"];
/// Keywords whose value is a reference.
const REF_KEYWORDS: [&str; 3] = ["$ref", "$dynamicRef", "$recursiveRef"];
/// Keywords that branch evaluation; each subschema under them counts.
const COMBINATORS: [&str; 7] = ["allOf", "anyOf", "oneOf", "not", "if", "then", "else"];
/// Deepest recursion the expansion estimate may reach (JSON nesting plus
/// reference hops).
const MAX_EXPANSION_FRAMES: usize = 256;

/// Checks `schema` and returns the draft to compile it with.
pub(crate) fn check_schema(
    schema: &Value,
    limits: &ValidationLimits,
    which: SchemaKind,
) -> Result<Draft, ValidationError> {
    let too =
        |what: &'static str, limit: usize| ValidationError::SchemaTooComplex { which, what, limit };
    if !schema.is_object() {
        return Err(ValidationError::BadToolDefinition(
            "a schema must be a JSON object",
        ));
    }
    measure::check_bounds(schema, limits.max_schema_bytes, limits.max_schema_depth).map_err(
        |e| match e {
            measure::Exceeded::Bytes => too("size in bytes", limits.max_schema_bytes),
            measure::Exceeded::Depth => too("nesting depth", limits.max_schema_depth),
        },
    )?;
    let census = Census::take(schema, limits, which)?;
    if census.nodes > limits.max_schema_nodes {
        return Err(too("subschema count", limits.max_schema_nodes));
    }
    if census.combinators > limits.max_combinators {
        return Err(too("combinator count", limits.max_combinators));
    }
    if census.refs > limits.max_refs {
        return Err(too("$ref count", limits.max_refs));
    }
    let mut expander = Expander {
        anchors: census.anchors,
        memo: HashMap::new(),
        on_stack: Vec::new(),
        budget: limits.max_expanded_nodes,
        which,
    };
    expander.size(schema, schema)?;
    draft_of(schema, which)
}

/// The draft a root schema declares; 2020-12 when it declares none.
fn draft_of(schema: &Value, which: SchemaKind) -> Result<Draft, ValidationError> {
    let Some(declared) = schema.get("$schema") else {
        return Ok(Draft::Draft202012);
    };
    let uri = declared
        .as_str()
        .ok_or(ValidationError::UnsupportedDialect { which })?;
    let bare = uri.strip_suffix('#').unwrap_or(uri);
    let bare = bare
        .strip_prefix("https://")
        .or_else(|| bare.strip_prefix("http://"))
        .ok_or(ValidationError::UnsupportedDialect { which })?;
    match bare {
        "json-schema.org/draft/2020-12/schema" => Ok(Draft::Draft202012),
        "json-schema.org/draft/2019-09/schema" => Ok(Draft::Draft201909),
        "json-schema.org/draft-07/schema" => Ok(Draft::Draft7),
        "json-schema.org/draft-06/schema" => Ok(Draft::Draft6),
        "json-schema.org/draft-04/schema" => Ok(Draft::Draft4),
        _ => Err(ValidationError::UnsupportedDialect { which }),
    }
}

/// Counts over the whole schema document, plus its named anchors.
struct Census<'a> {
    nodes: usize,
    combinators: usize,
    refs: usize,
    anchors: HashMap<&'a str, &'a Value>,
}

impl<'a> Census<'a> {
    fn take(
        schema: &'a Value,
        limits: &ValidationLimits,
        which: SchemaKind,
    ) -> Result<Self, ValidationError> {
        let mut census = Census {
            nodes: 0,
            combinators: 0,
            refs: 0,
            anchors: HashMap::new(),
        };
        let pattern_too_long = ValidationError::SchemaTooComplex {
            which,
            what: "pattern length in bytes",
            limit: limits.max_pattern_bytes,
        };
        let mut stack = vec![schema];
        while let Some(value) = stack.pop() {
            let map = match value {
                Value::Array(items) => {
                    stack.extend(items);
                    continue;
                }
                Value::Object(map) => map,
                _ => continue,
            };
            census.nodes += 1;
            for (key, child) in map {
                let key = key.as_str();
                if DATA_KEYWORDS.contains(&key) {
                    continue;
                }
                if REF_KEYWORDS.contains(&key)
                    && let Value::String(reference) = child
                {
                    if !reference.starts_with('#') {
                        return Err(ValidationError::RemoteRef { which });
                    }
                    census.refs += 1;
                }
                if key == "$schema" && child.is_string() {
                    draft_of(value, which)?;
                }
                if COMBINATORS.contains(&key) {
                    census.combinators += child.as_array().map_or(1, Vec::len);
                }
                if key == "dependentSchemas" {
                    census.combinators += child.as_object().map_or(1, serde_json::Map::len);
                }
                if key == "pattern"
                    && let Value::String(p) = child
                    && p.len() > limits.max_pattern_bytes
                {
                    return Err(pattern_too_long);
                }
                if key == "patternProperties"
                    && let Value::Object(patterns) = child
                    && patterns.keys().any(|p| p.len() > limits.max_pattern_bytes)
                {
                    return Err(pattern_too_long);
                }
                if let ("$anchor" | "$dynamicAnchor", Value::String(name)) = (key, child) {
                    census.anchors.insert(name.as_str(), value);
                }
                if let ("$id" | "id", Value::String(id)) = (key, child)
                    && let Some(name) = id.strip_prefix('#')
                {
                    census.anchors.insert(name, value);
                }
                stack.push(child);
            }
        }
        Ok(census)
    }
}

/// Estimates how many subschemas evaluation can visit for one instance
/// location, following local references (memoized; a cycle counts once,
/// since recursion then consumes instance depth, which is bounded).
struct Expander<'a> {
    anchors: HashMap<&'a str, &'a Value>,
    memo: HashMap<*const Value, usize>,
    on_stack: Vec<*const Value>,
    budget: usize,
    which: SchemaKind,
}

impl<'a> Expander<'a> {
    fn size(&mut self, node: &'a Value, base: &'a Value) -> Result<usize, ValidationError> {
        let key: *const Value = node;
        if let Some(&known) = self.memo.get(&key) {
            return Ok(known);
        }
        if self.on_stack.contains(&key) {
            return Ok(1);
        }
        if self.on_stack.len() >= MAX_EXPANSION_FRAMES {
            return Err(self.too_big("reference chain depth", MAX_EXPANSION_FRAMES));
        }
        self.on_stack.push(key);
        let result = self.size_uncached(node, base);
        self.on_stack.pop();
        let size = result?;
        if size > self.budget {
            return Err(self.too_big("expanded subschema count", self.budget));
        }
        self.memo.insert(key, size);
        Ok(size)
    }

    fn size_uncached(
        &mut self,
        node: &'a Value,
        base: &'a Value,
    ) -> Result<usize, ValidationError> {
        let mut total = 0usize;
        match node {
            Value::Array(items) => {
                for item in items {
                    total = total.saturating_add(self.size(item, base)?);
                }
            }
            Value::Object(map) => {
                total = 1;
                let is_resource = map
                    .get("$id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| !id.starts_with('#'));
                let base = if is_resource { node } else { base };
                for (key, child) in map {
                    if DATA_KEYWORDS.contains(&key.as_str()) {
                        continue;
                    }
                    if REF_KEYWORDS.contains(&key.as_str())
                        && let Value::String(reference) = child
                    {
                        let target = self.resolve(reference, base)?;
                        total = total.saturating_add(self.size(target, base)?);
                        continue;
                    }
                    total = total.saturating_add(self.size(child, base)?);
                }
            }
            _ => {}
        }
        Ok(total)
    }

    /// Resolves a local reference: `#`, `#/json/pointer` or `#anchor`.
    fn resolve(&self, reference: &str, base: &'a Value) -> Result<&'a Value, ValidationError> {
        let unresolved = ValidationError::UnresolvedRef { which: self.which };
        let fragment = reference
            .strip_prefix('#')
            .ok_or(ValidationError::RemoteRef { which: self.which })?;
        if fragment.is_empty() {
            return Ok(base);
        }
        if fragment.starts_with('/') {
            let pointer = percent_decode(fragment).ok_or(unresolved.clone())?;
            return base.pointer(&pointer).ok_or(unresolved);
        }
        self.anchors.get(fragment).copied().ok_or(unresolved)
    }

    fn too_big(&self, what: &'static str, limit: usize) -> ValidationError {
        ValidationError::SchemaTooComplex {
            which: self.which,
            what,
            limit,
        }
    }
}

/// Decodes `%XX` escapes in a URI fragment; `None` if malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
