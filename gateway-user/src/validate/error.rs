//! Validation errors: typed, and safe to show a client (they name keywords
//! and short paths, never echo the offending values or schema text).

use std::fmt;

/// Which of a tool's schemas an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    /// `inputSchema`, for tools/call arguments.
    Input,
    /// `outputSchema`, for `structuredContent` in results.
    Output,
}

impl fmt::Display for SchemaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Input => "input",
            Self::Output => "output",
        })
    }
}

/// Why a schema, an argument object or a result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The tool definition lacks a usable name or `inputSchema`.
    #[error("the tool definition is invalid: {0}")]
    BadToolDefinition(&'static str),
    /// A schema exceeds a size, depth or complexity bound.
    #[error("the tool's {which} schema exceeds the {what} limit of {limit}")]
    SchemaTooComplex {
        /// Which schema.
        which: SchemaKind,
        /// The bound exceeded (e.g. "size in bytes", "depth").
        what: &'static str,
        /// The bound's value.
        limit: usize,
    },
    /// A `$ref` points outside the schema document; nothing is ever fetched.
    #[error("the tool's {which} schema has a non-local $ref; remote references are never fetched")]
    RemoteRef {
        /// Which schema.
        which: SchemaKind,
    },
    /// A local `$ref` points nowhere in the document.
    #[error("the tool's {which} schema has a $ref that does not resolve inside the schema")]
    UnresolvedRef {
        /// Which schema.
        which: SchemaKind,
    },
    /// `$schema` names a dialect other than the built-in drafts.
    #[error("the tool's {which} schema declares an unsupported $schema dialect")]
    UnsupportedDialect {
        /// Which schema.
        which: SchemaKind,
    },
    /// The schema is not a valid JSON Schema (or a regex in it is refused).
    #[error("the tool's {which} schema is invalid ({keyword} at {path})")]
    SchemaInvalid {
        /// Which schema.
        which: SchemaKind,
        /// The failing keyword.
        keyword: String,
        /// Where in the schema (a shortened JSON pointer).
        path: String,
    },
    /// `arguments` is present but not an object.
    #[error("arguments must be a JSON object")]
    ArgumentsNotObject,
    /// `arguments` exceeds a size or depth bound.
    #[error("arguments exceed the {what} limit of {limit}")]
    ArgumentsTooLarge {
        /// The bound exceeded.
        what: &'static str,
        /// The bound's value.
        limit: usize,
    },
    /// `arguments` does not match the input schema.
    #[error("arguments do not match the tool's input schema ({keyword} failed at {path})")]
    ArgumentsInvalid {
        /// The failing keyword.
        keyword: String,
        /// Where in the arguments (a shortened JSON pointer).
        path: String,
    },
    /// The result exceeds a size or depth bound.
    #[error("the tool result exceeds the {what} limit of {limit}")]
    ResultTooLarge {
        /// The bound exceeded.
        what: &'static str,
        /// The bound's value.
        limit: usize,
    },
    /// The result is not a well-formed CallToolResult.
    #[error("the tool result is malformed: {reason} at {path}")]
    ResultMalformed {
        /// What is wrong.
        reason: &'static str,
        /// Where (a shortened JSON pointer).
        path: String,
    },
    /// The tool declares an `outputSchema` but the result has no `structuredContent`.
    #[error("the tool declares an outputSchema but the result has no structuredContent")]
    MissingStructuredContent,
    /// `structuredContent` does not match the output schema.
    #[error(
        "structuredContent does not match the tool's output schema ({keyword} failed at {path})"
    )]
    OutputInvalid {
        /// The failing keyword.
        keyword: String,
        /// Where in `structuredContent` (a shortened JSON pointer).
        path: String,
    },
    /// The schema cache is unusable (a panic elsewhere poisoned its lock).
    #[error("schema validation is unavailable")]
    Unavailable,
}

/// Longest path or keyword echoed in an error message.
const MAX_ECHO: usize = 96;

/// Shortens `s` to at most [`MAX_ECHO`] bytes on a char boundary and
/// replaces control characters, so a message stays small and printable.
pub(crate) fn shorten(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_ECHO + 3));
    for c in s.chars() {
        if out.len() + c.len_utf8() > MAX_ECHO {
            out.push_str("...");
            return out;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}
