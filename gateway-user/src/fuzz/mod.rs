//! Fuzz harnesses for every parser of outside input, one function per
//! target of the `fuzz/` crate at the repository root.
//!
//! Built with `--cfg fuzzing` (cargo-fuzz sets it) and under `cfg(test)`,
//! where [`TARGETS`] replays the committed seed corpora
//! (`fuzz/corpus/<target>/`) through the same checks on every test run.
//! Each harness takes arbitrary bytes and asserts its parser's invariants:
//! a panic is a bug, in the parser or in the invariant.

mod config;
mod mcp;
mod scan;
#[cfg(test)]
mod tests;

pub use crate::auth::fuzz::{
    api_key, api_key_store, authorization, cert_names, jwks, jwt, jwt_claims,
};
pub use config::config;
pub use mcp::{jsonrpc, sse};
pub use scan::{scan_backends, scan_mcp_result, scan_text};

/// A harness: arbitrary bytes in, a panic when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name (the name of its file under
/// `fuzz/fuzz_targets/` and of its seed corpus directory).
pub const TARGETS: &[(&str, Harness)] = &[
    ("scan_text", scan_text),
    ("scan_backends", scan_backends),
    ("scan_mcp_result", scan_mcp_result),
    ("jsonrpc", jsonrpc),
    ("sse", sse),
    ("config", config),
    ("jwt", jwt),
    ("jwt_claims", jwt_claims),
    ("jwks", jwks),
    ("authorization", authorization),
    ("api_key", api_key),
    ("api_key_store", api_key_store),
    ("cert_names", cert_names),
];
