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

pub use config::config;
pub use mcp::{jsonrpc, sse};
pub use scan::{scan_mcp_result, scan_text};

/// A harness: arbitrary bytes in, a panic when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name (the name of its file under
/// `fuzz/fuzz_targets/` and of its seed corpus directory).
pub const TARGETS: &[(&str, Harness)] = &[
    ("scan_text", scan_text),
    ("scan_mcp_result", scan_mcp_result),
    ("jsonrpc", jsonrpc),
    ("sse", sse),
    ("config", config),
    ("jwt", crate::auth::fuzz::jwt),
    ("jwt_claims", crate::auth::fuzz::jwt_claims),
    ("jwks", crate::auth::fuzz::jwks),
    ("authorization", crate::auth::fuzz::authorization),
    ("api_key", crate::auth::fuzz::api_key),
    ("api_key_store", crate::auth::fuzz::api_key_store),
    ("cert_names", crate::auth::fuzz::cert_names),
];
