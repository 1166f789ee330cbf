//! The structure of a CallToolResult (MCP 2025-06-18): a `content` array of
//! known content blocks, optional `isError` bool, optional
//! `structuredContent` object, optional `_meta` object.

use serde_json::{Map, Value};

use super::{ValidationError, ValidationLimits, error::shorten, measure};

/// What the structure check found that later checks need.
#[derive(Debug)]
pub(crate) struct ResultShape<'a> {
    pub(crate) is_error: bool,
    pub(crate) structured_content: Option<&'a Value>,
}

fn malformed(reason: &'static str, path: &str) -> ValidationError {
    ValidationError::ResultMalformed {
        reason,
        path: shorten(path),
    }
}

/// Checks size, depth and structure of `result`.
pub(crate) fn check_structure<'a>(
    result: &'a Value,
    limits: &ValidationLimits,
) -> Result<ResultShape<'a>, ValidationError> {
    measure::check_bounds(result, limits.max_result_bytes, limits.max_result_depth).map_err(
        |e| ValidationError::ResultTooLarge {
            what: e.what(),
            limit: match e {
                measure::Exceeded::Bytes => limits.max_result_bytes,
                measure::Exceeded::Depth => limits.max_result_depth,
            },
        },
    )?;
    let map = result
        .as_object()
        .ok_or_else(|| malformed("the result is not an object", "/"))?;
    let content = map
        .get("content")
        .ok_or_else(|| malformed("content is missing", "/content"))?
        .as_array()
        .ok_or_else(|| malformed("content is not an array", "/content"))?;
    if content.len() > limits.max_content_blocks {
        return Err(ValidationError::ResultTooLarge {
            what: "content block count",
            limit: limits.max_content_blocks,
        });
    }
    for (i, block) in content.iter().enumerate() {
        check_block(block, &format!("/content/{i}"))?;
    }
    let is_error = match map.get("isError") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(malformed("isError is not a boolean", "/isError")),
    };
    let structured_content = match map.get("structuredContent") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => {
            return Err(malformed(
                "structuredContent is not an object",
                "/structuredContent",
            ));
        }
    };
    optional_object(map, "_meta", "/_meta")?;
    Ok(ResultShape {
        is_error,
        structured_content,
    })
}

/// One content block: text, image, audio, resource_link or resource.
fn check_block(block: &Value, path: &str) -> Result<(), ValidationError> {
    let map = block
        .as_object()
        .ok_or_else(|| malformed("a content block is not an object", path))?;
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("a content block has no type", path))?;
    match kind {
        "text" => required_str(map, "text", path)?,
        "image" | "audio" => {
            required_str(map, "data", path)?;
            required_str(map, "mimeType", path)?;
        }
        "resource_link" => {
            required_str(map, "uri", path)?;
            required_str(map, "name", path)?;
        }
        "resource" => {
            let inner_path = format!("{path}/resource");
            let resource = map
                .get("resource")
                .and_then(Value::as_object)
                .ok_or_else(|| malformed("an embedded resource has no resource object", path))?;
            required_str(resource, "uri", &inner_path)?;
            let text = resource.get("text");
            let blob = resource.get("blob");
            match (text, blob) {
                (Some(Value::String(_)), None) | (None, Some(Value::String(_))) => {}
                _ => {
                    return Err(malformed(
                        "an embedded resource needs exactly one of text or blob, as a string",
                        &inner_path,
                    ));
                }
            }
            optional_object(resource, "_meta", &inner_path)?;
        }
        _ => return Err(malformed("a content block has an unknown type", path)),
    }
    optional_object(map, "annotations", path)?;
    optional_object(map, "_meta", path)?;
    Ok(())
}

fn required_str(
    map: &Map<String, Value>,
    field: &'static str,
    path: &str,
) -> Result<(), ValidationError> {
    match map.get(field) {
        Some(Value::String(_)) => Ok(()),
        _ => Err(ValidationError::ResultMalformed {
            reason: match field {
                "text" => "a text block needs a string text",
                "data" => "a media block needs string data",
                "mimeType" => "a media block needs a string mimeType",
                "uri" => "a resource needs a string uri",
                "name" => "a resource link needs a string name",
                _ => "a required string field is missing",
            },
            path: shorten(path),
        }),
    }
}

fn optional_object(
    map: &Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<(), ValidationError> {
    match map.get(field) {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(malformed("annotations and _meta must be objects", path)),
    }
}
