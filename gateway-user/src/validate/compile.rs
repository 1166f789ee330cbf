//! Compiling a checked schema: the built-in drafts only, a linear-time
//! regex engine with a size bound, and a retriever that refuses everything.

use jsonschema::{PatternOptions, Retrieve, Uri, Validator};
use serde_json::Value;

use super::{SchemaKind, ValidationError, ValidationLimits, error::shorten, guard};

/// A retriever that never fetches: every external resource is refused. The
/// crate is built without its HTTP and file resolvers as well; this is the
/// second wall.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RefuseRetriever;

#[derive(Debug, thiserror::Error)]
#[error("external schema references are never fetched")]
struct Refused;

impl Retrieve for RefuseRetriever {
    fn retrieve(
        &self,
        _uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(Box::new(Refused))
    }
}

/// Checks `schema` against `limits`, then compiles it.
pub(crate) fn compile(
    schema: &Value,
    limits: &ValidationLimits,
    which: SchemaKind,
) -> Result<Validator, ValidationError> {
    let draft = guard::check_schema(schema, limits, which)?;
    build(schema, draft, limits, which)
}

/// Compiles without the guard (tests use it to check the second wall).
pub(crate) fn build(
    schema: &Value,
    draft: jsonschema::Draft,
    limits: &ValidationLimits,
    which: SchemaKind,
) -> Result<Validator, ValidationError> {
    jsonschema::options()
        .with_draft(draft)
        .with_retriever(RefuseRetriever)
        .with_pattern_options(
            PatternOptions::regex()
                .size_limit(limits.regex_size_limit)
                .dfa_size_limit(limits.regex_size_limit),
        )
        .build(schema)
        .map_err(|e| ValidationError::SchemaInvalid {
            which,
            keyword: shorten(e.kind().keyword()),
            path: shorten(e.schema_path().as_str()),
        })
}

/// Validates `instance`, mapping the first error to a keyword and a path.
pub(crate) fn first_error(validator: &Validator, instance: &Value) -> Option<(String, String)> {
    validator.validate(instance).err().map(|e| {
        (
            shorten(e.kind().keyword()),
            shorten(e.instance_path().as_str()),
        )
    })
}
