//! Validation of tool traffic: tools/call arguments against the tool's
//! `inputSchema`, and results against the CallToolResult structure and the
//! tool's `outputSchema`.
//!
//! Schemas come from upstreams and are untrusted. Before one is compiled it
//! is checked against [`ValidationLimits`] (size, depth, subschema and
//! combinator counts, `$ref` fan-out, pattern length); only local `$ref`s
//! (`#...`) are accepted and nothing is ever fetched: the crate is built
//! without its network and file resolvers and runs with a retriever that
//! refuses everything. Patterns use a linear-time regex engine with a
//! compiled-size bound. Dialect: JSON Schema 2020-12 unless `$schema` names
//! another built-in draft (07, 2019-09, 06, 04); any other `$schema` is
//! refused. Sans-IO: no clock, files or sockets.
//!
//! Known limit: references to other documents by `$id` (e.g.
//! `"$ref": "urn:x"` where a subschema has `"$id": "urn:x"`) are refused as
//! non-local, which fails secure.

mod cache;
mod compile;
mod error;
mod guard;
mod limits;
mod measure;
mod result;

pub use cache::SchemaCache;
pub use error::{SchemaKind, ValidationError};
pub use limits::ValidationLimits;

pub(crate) use measure::depth_exceeds;

#[cfg(test)]
mod tests;
