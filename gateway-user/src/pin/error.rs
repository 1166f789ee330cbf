//! Pin store errors.

use std::path::PathBuf;

/// Why a pin operation or the state file failed.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// No state has been recorded for this upstream.
    #[error("no pinned tools for upstream `{0}`")]
    UnknownUpstream(String),
    /// `approve` named a tool with no pending change.
    #[error("tool `{tool}` of upstream `{upstream}` has no pending change to approve")]
    NothingPending {
        /// The upstream.
        upstream: String,
        /// The tool.
        tool: String,
    },
    /// The state file does not exist.
    #[error("no pin state file at {0}")]
    NotFound(PathBuf),
    /// The state file is larger than the load limit.
    #[error("pin state file {path} is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The state file is writable by others than its owner.
    #[error("pin state file {0} is writable by group or others; refusing to trust it (chmod 600)")]
    InsecurePermissions(PathBuf),
    /// The state file does not parse or is inconsistent. Nothing is re-trusted.
    #[error("pin state file {path} is corrupt: {reason}; fix or remove it deliberately")]
    Corrupt {
        /// The file (empty when parsing bytes directly).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading, writing, locking or renaming failed.
    #[error("pin state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
