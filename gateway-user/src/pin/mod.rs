//! Tool-definition pinning, the rug-pull defence.
//!
//! The first tools/list of an upstream is trusted and pinned (or pins come
//! from a pin file in config). Every later list is compared with the pins
//! by canonical SHA-256 of each whole tool definition (name, title,
//! description, inputSchema, outputSchema, annotations and any other field):
//! a changed, new or removed tool becomes a pending change. In enforce mode
//! (the default) changed and new tools are left out of the list the client
//! gets and are not callable until an operator approves them
//! (`portcullis tools diff|approve`); in warn mode they pass but the change
//! is recorded. Decisions are sans-IO (`now` is passed in); `persist.rs`
//! is the state-file shell.

mod diff;
mod error;
mod hash;
mod persist;
mod screen;
mod store;
mod types;

pub use diff::{FieldDiff, ToolDiff};
pub use error::PinError;
pub use hash::{canonical_hash, canonical_json};
pub use persist::{MAX_STATE_BYTES, STATE_FILE_NAME};
pub use screen::{MAX_LIST_BYTES, MAX_NAME_BYTES, MAX_TOOL_BYTES, MAX_TOOL_DEPTH, MAX_TOOLS};
pub use store::PinStore;
pub use types::{
    Approve, ChangeKind, PendingChange, PinMode, PinOutcome, PinnedTool, RejectedTool,
};

#[cfg(test)]
mod tests;
