//! Human-readable differences between a pinned and a listed definition.

use std::{collections::BTreeSet, fmt};

use serde_json::Value;

use super::{ChangeKind, PinStore, screen::printable};

/// Most differing paths reported per field.
const MAX_PATHS: usize = 32;
/// Longest text shown for a string field.
const MAX_TEXT: usize = 2000;

/// What changed in one tool, for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDiff {
    /// The tool.
    pub tool: String,
    /// The kind of change.
    pub kind: ChangeKind,
    /// For a new tool: a removed tool with the same definition.
    pub renamed_from: Option<String>,
    /// When first seen (Unix seconds).
    pub first_seen: u64,
    /// The top-level fields that differ.
    pub fields: Vec<FieldDiff>,
}

/// One differing top-level field of a tool definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// The field (`description`, `inputSchema`, ...).
    pub field: String,
    /// For string fields: the pinned text (shortened, control characters escaped).
    pub old: Option<String>,
    /// For string fields: the listed text.
    pub new: Option<String>,
    /// For structured fields: JSON pointers (within the field) that differ.
    pub paths: Vec<String>,
}

impl PinStore {
    /// The pending changes of `upstream`, with the fields that differ.
    pub fn diff(&self, upstream: &str) -> Vec<ToolDiff> {
        self.pending(upstream)
            .map(|c| {
                let old = self
                    .pinned(upstream)
                    .find(|(n, _)| *n == c.tool)
                    .map(|(_, p)| &p.definition);
                ToolDiff {
                    tool: c.tool.clone(),
                    kind: c.kind,
                    renamed_from: c.renamed_from.clone(),
                    first_seen: c.first_seen,
                    fields: match c.kind {
                        ChangeKind::Removed => Vec::new(),
                        _ => field_diffs(old, c.definition.as_ref()),
                    },
                }
            })
            .collect()
    }
}

fn field_diffs(old: Option<&Value>, new: Option<&Value>) -> Vec<FieldDiff> {
    let old = old.and_then(Value::as_object);
    let new = new.and_then(Value::as_object);
    let keys: BTreeSet<&String> = old
        .iter()
        .chain(new.iter())
        .flat_map(|m| m.keys())
        .collect();
    let mut out = Vec::new();
    for key in keys {
        let a = old.and_then(|m| m.get(key));
        let b = new.and_then(|m| m.get(key));
        if a == b {
            continue;
        }
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(shown);
        let strings = a.is_none_or(Value::is_string) && b.is_none_or(Value::is_string);
        let mut paths = Vec::new();
        if !strings {
            differing_paths(a, b, String::new(), &mut paths);
        }
        out.push(FieldDiff {
            field: printable(key),
            old: if strings { text(a) } else { None },
            new: if strings { text(b) } else { None },
            paths,
        });
    }
    out
}

/// Collects JSON pointers where `a` and `b` differ, up to [`MAX_PATHS`].
fn differing_paths(a: Option<&Value>, b: Option<&Value>, at: String, out: &mut Vec<String>) {
    if out.len() >= MAX_PATHS || a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let seg = k.replace('~', "~0").replace('/', "~1");
                differing_paths(x.get(k), y.get(k), format!("{at}/{}", printable(&seg)), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                differing_paths(x.get(i), y.get(i), format!("{at}/{i}"), out);
            }
        }
        _ => out.push(if at.is_empty() { "/".to_owned() } else { at }),
    }
}

/// Escapes control characters (terminal escapes included) and shortens.
fn shown(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() >= MAX_TEXT {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for ToolDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tool `{}` (first seen {})",
            self.kind,
            printable(&self.tool),
            self.first_seen
        )?;
        if let Some(from) = &self.renamed_from {
            write!(f, ", likely renamed from `{}`", printable(from))?;
        }
        writeln!(f)?;
        for d in &self.fields {
            writeln!(f, "  field {}:", d.field)?;
            if let Some(old) = &d.old {
                writeln!(f, "    - {old}")?;
            }
            if let Some(new) = &d.new {
                writeln!(f, "    + {new}")?;
            }
            for p in &d.paths {
                writeln!(f, "    ~ {p}")?;
            }
        }
        Ok(())
    }
}
