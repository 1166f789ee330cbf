//! The compiled-schema cache and the entry points the pipeline calls.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use jsonschema::Validator;
use serde_json::Value;

use super::{SchemaKind, ValidationError, ValidationLimits, compile, measure, result};

/// Cache key: upstream, tool name, which schema.
type Key = (String, String, SchemaKind);
/// A compiled schema (or the reason it failed) for one schema version.
type Entry = (Arc<Value>, Result<Arc<Validator>, ValidationError>);

/// Compiles each tool's schemas once per version and validates tools/call
/// arguments and results against them. Shareable across threads (`&self`).
///
/// A version is identified by the schema itself (structural equality, which
/// ignores key order like a canonical hash would, and costs far less per
/// call than hashing), so a changed schema under the same tool name is
/// recompiled and replaces the old one; compile failures are cached too,
/// so a hostile schema costs its bounded check once.
#[derive(Debug)]
pub struct SchemaCache {
    limits: ValidationLimits,
    entries: RwLock<HashMap<Key, Entry>>,
}

impl SchemaCache {
    /// An empty cache enforcing `limits`.
    pub fn new(limits: ValidationLimits) -> Self {
        Self {
            limits,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ValidationLimits {
        &self.limits
    }

    /// How many compiled schemas (or cached failures) are held.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Validates tools/call `arguments` (pass `Value::Null` when absent: it
    /// is checked as `{}`) against the `inputSchema` of `tool`, a tool
    /// definition as listed by tools/list (use the pinned one).
    pub fn validate_arguments(
        &self,
        upstream: &str,
        tool: &Value,
        args: &Value,
    ) -> Result<(), ValidationError> {
        let empty = Value::Object(serde_json::Map::new());
        let args = match args {
            Value::Null => &empty,
            Value::Object(_) => args,
            _ => return Err(ValidationError::ArgumentsNotObject),
        };
        measure::check_bounds(
            args,
            self.limits.max_argument_bytes,
            self.limits.max_argument_depth,
        )
        .map_err(|e| ValidationError::ArgumentsTooLarge {
            what: e.what(),
            limit: match e {
                measure::Exceeded::Bytes => self.limits.max_argument_bytes,
                measure::Exceeded::Depth => self.limits.max_argument_depth,
            },
        })?;
        let (name, schema) = tool_schema(tool, "inputSchema")?;
        let schema = schema.ok_or(ValidationError::BadToolDefinition("no inputSchema"))?;
        let validator = self.validator(upstream, name, SchemaKind::Input, schema)?;
        match compile::first_error(&validator, args) {
            None => Ok(()),
            Some((keyword, path)) => Err(ValidationError::ArgumentsInvalid { keyword, path }),
        }
    }

    /// Checks a tools/call `result`: its size, the CallToolResult structure,
    /// and `structuredContent` against the tool's `outputSchema` when it
    /// declares one (then `structuredContent` is required unless `isError`).
    pub fn validate_result(
        &self,
        upstream: &str,
        tool: &Value,
        result: &Value,
    ) -> Result<(), ValidationError> {
        let shape = result::check_structure(result, &self.limits)?;
        let (name, schema) = tool_schema(tool, "outputSchema")?;
        let Some(schema) = schema else {
            return Ok(());
        };
        let structured = match shape.structured_content {
            Some(s) => s,
            None if shape.is_error => return Ok(()),
            None => return Err(ValidationError::MissingStructuredContent),
        };
        let validator = self.validator(upstream, name, SchemaKind::Output, schema)?;
        match compile::first_error(&validator, structured) {
            None => Ok(()),
            Some((keyword, path)) => Err(ValidationError::OutputInvalid { keyword, path }),
        }
    }

    /// Compiles (or fetches from the cache) both schemas of `tool`, e.g.
    /// when tools/list arrives, so a tool whose schema is refused can be
    /// left out of the list instead of failing at call time.
    pub fn check_tool(&self, upstream: &str, tool: &Value) -> Result<(), ValidationError> {
        let (name, input) = tool_schema(tool, "inputSchema")?;
        let input = input.ok_or(ValidationError::BadToolDefinition("no inputSchema"))?;
        self.validator(upstream, name, SchemaKind::Input, input)?;
        if let (_, Some(output)) = tool_schema(tool, "outputSchema")? {
            self.validator(upstream, name, SchemaKind::Output, output)?;
        }
        Ok(())
    }

    /// The compiled validator for this schema version, compiling on a miss.
    fn validator(
        &self,
        upstream: &str,
        tool: &str,
        which: SchemaKind,
        schema: &Value,
    ) -> Result<Arc<Validator>, ValidationError> {
        let key = (upstream.to_owned(), tool.to_owned(), which);
        {
            let entries = self
                .entries
                .read()
                .map_err(|_| ValidationError::Unavailable)?;
            if let Some((cached, outcome)) = entries.get(&key)
                && **cached == *schema
            {
                return outcome.clone();
            }
        }
        let outcome = compile::compile(schema, &self.limits, which).map(Arc::new);
        let mut entries = self
            .entries
            .write()
            .map_err(|_| ValidationError::Unavailable)?;
        if entries.len() >= self.limits.max_cached_schemas && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (Arc::new(schema.clone()), outcome.clone()));
        outcome
    }
}

/// The tool's name and the schema under `field`, if any.
fn tool_schema<'a>(
    tool: &'a Value,
    field: &str,
) -> Result<(&'a str, Option<&'a Value>), ValidationError> {
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or(ValidationError::BadToolDefinition("no name"))?;
    Ok((name, tool.get(field).filter(|s| !s.is_null())))
}
