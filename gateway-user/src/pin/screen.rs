//! Screening a listed tool before it is compared with pins: a string
//! name of bounded length without control characters, bounded size and
//! depth, and no name listed twice.

use std::collections::HashMap;

use serde_json::Value;

use super::RejectedTool;
use crate::validate::depth_exceeds;

/// Largest tool definition accepted, in bytes of canonical JSON.
pub const MAX_TOOL_BYTES: usize = 256 * 1024;
/// Deepest JSON nesting accepted in a tool definition.
pub const MAX_TOOL_DEPTH: usize = 64;
/// Most tools accepted in one list.
pub const MAX_TOOLS: usize = 1024;
/// Most bytes of canonical JSON kept from one list; tools past the budget
/// are refused, so one upstream cannot bloat the state file.
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;
/// Longest tool name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// A listed tool that passed the shape checks.
pub(crate) struct Listed<'a> {
    pub(crate) name: &'a str,
    pub(crate) definition: &'a Value,
    pub(crate) hash: String,
    bytes: usize,
}

/// Splits a list into well-formed tools and refused ones. A name listed
/// more than once is refused in every copy.
pub(crate) fn screen(tools: &[Value]) -> (Vec<Listed<'_>>, Vec<RejectedTool>) {
    let mut rejected = Vec::new();
    if tools.len() > MAX_TOOLS {
        rejected.push(RejectedTool {
            name: None,
            reason: "the list has too many tools",
        });
        return (Vec::new(), rejected);
    }
    let mut listed = Vec::with_capacity(tools.len());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut budget = MAX_LIST_BYTES;
    for tool in tools {
        match check_tool(tool) {
            Ok(l) if l.bytes > budget => rejected.push(RejectedTool {
                name: Some(printable(l.name)),
                reason: "the list exceeds its total size budget",
            }),
            Ok(l) => {
                budget -= l.bytes;
                *seen.entry(l.name).or_default() += 1;
                listed.push(l);
            }
            Err(r) => rejected.push(r),
        }
    }
    listed.retain(|l| {
        let unique = seen.get(l.name).copied().unwrap_or(0) == 1;
        if !unique {
            rejected.push(RejectedTool {
                name: Some(printable(l.name)),
                reason: "the name is listed more than once",
            });
        }
        unique
    });
    (listed, rejected)
}

fn check_tool(tool: &Value) -> Result<Listed<'_>, RejectedTool> {
    let refuse = |name: Option<&str>, reason| RejectedTool {
        name: name.map(printable),
        reason,
    };
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(None, "a tool has no string name"))?;
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(refuse(
            Some(name),
            "the name is empty, too long or has control characters",
        ));
    }
    if depth_exceeds(tool, MAX_TOOL_DEPTH) {
        return Err(refuse(Some(name), "the definition is nested too deeply"));
    }
    let canonical = super::canonical_json(tool);
    if canonical.len() > MAX_TOOL_BYTES {
        return Err(refuse(Some(name), "the definition is too large"));
    }
    let hash = super::hash::sha256_hex(canonical.as_bytes());
    Ok(Listed {
        name,
        definition: tool,
        hash,
        bytes: canonical.len(),
    })
}

/// A short, printable rendering of an untrusted name.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .take(MAX_NAME_BYTES)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
