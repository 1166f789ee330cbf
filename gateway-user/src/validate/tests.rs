//! Tests: valid, invalid and hostile schemas; results; the cache.

mod hostile;
mod results;
mod schemas;

use serde_json::{Value, json};

use super::{SchemaCache, ValidationLimits};

fn cache() -> SchemaCache {
    SchemaCache::new(ValidationLimits::default())
}

fn tool(schema: Value) -> Value {
    json!({"name": "t", "description": "d", "inputSchema": schema})
}

fn tool_with_output(output: Value) -> Value {
    json!({"name": "t", "inputSchema": {"type": "object"}, "outputSchema": output})
}
