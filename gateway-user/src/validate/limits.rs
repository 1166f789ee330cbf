//! Cost bounds for schemas, arguments and results.

use serde::Deserialize;

/// Bounds on what the validator accepts, so a hostile schema or payload
/// cannot stall the gateway. Every field has a safe default; config may
/// tighten or loosen them (`deny_unknown_fields`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationLimits {
    /// Largest schema accepted, in bytes of compact JSON.
    pub max_schema_bytes: usize,
    /// Deepest JSON nesting accepted in a schema.
    pub max_schema_depth: usize,
    /// Most JSON objects (potential subschemas) in one schema.
    pub max_schema_nodes: usize,
    /// Most combinator branches (`allOf`/`anyOf`/`oneOf` members, `not`,
    /// `if`/`then`/`else`, `dependentSchemas` entries) in one schema.
    pub max_combinators: usize,
    /// Most `$ref`-style references in one schema.
    pub max_refs: usize,
    /// Most subschemas the schema expands to when every local `$ref` is
    /// followed (each target counted where it is used): this catches
    /// exponential reference fan-out with few nodes.
    pub max_expanded_nodes: usize,
    /// Longest `pattern` (or `patternProperties` key), in bytes.
    pub max_pattern_bytes: usize,
    /// Compiled size limit per regular expression, in bytes.
    pub regex_size_limit: usize,
    /// Largest `arguments` object of a tools/call, in bytes of compact JSON.
    pub max_argument_bytes: usize,
    /// Deepest JSON nesting in `arguments`.
    pub max_argument_depth: usize,
    /// Largest tools/call result, in bytes of compact JSON.
    pub max_result_bytes: usize,
    /// Deepest JSON nesting in a tools/call result.
    pub max_result_depth: usize,
    /// Most content blocks in one result.
    pub max_content_blocks: usize,
    /// Most compiled schemas kept in the cache (it is cleared when full).
    pub max_cached_schemas: usize,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            max_schema_bytes: 256 * 1024,
            max_schema_depth: 32,
            max_schema_nodes: 4096,
            max_combinators: 256,
            max_refs: 256,
            max_expanded_nodes: 20_000,
            max_pattern_bytes: 1024,
            regex_size_limit: 1024 * 1024,
            max_argument_bytes: 1024 * 1024,
            max_argument_depth: 64,
            max_result_bytes: 4 * 1024 * 1024,
            max_result_depth: 64,
            max_content_blocks: 1024,
            max_cached_schemas: 4096,
        }
    }
}
