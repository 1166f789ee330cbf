//! The pin store's data: pinned definitions and pending changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What to do with a changed or new tool on one upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Hold changed and new tools back (not listed, not callable) until approved.
    #[default]
    Enforce,
    /// Pass changed and new tools through, but record the change.
    Warn,
}

/// How a tool differs from its pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The definition under a pinned name changed.
    Changed,
    /// A name that was never pinned (a rename shows as `New` plus `Removed`).
    New,
    /// A pinned name is no longer listed.
    Removed,
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Changed => "changed",
            Self::New => "new",
            Self::Removed => "removed",
        })
    }
}

/// An approved tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedTool {
    /// Canonical SHA-256 (hex) of `definition`.
    pub hash: String,
    /// The whole tool object as the upstream listed it.
    pub definition: Value,
    /// When it was pinned (Unix seconds, as passed in).
    pub pinned_at: u64,
}

/// A difference between what an upstream lists and what is pinned,
/// waiting for an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingChange {
    /// The upstream.
    pub upstream: String,
    /// The tool name.
    pub tool: String,
    /// What changed.
    pub kind: ChangeKind,
    /// The pinned hash (`Changed`, `Removed`).
    pub old_hash: Option<String>,
    /// The listed hash (`Changed`, `New`).
    pub new_hash: Option<String>,
    /// When this exact change was first seen (Unix seconds).
    pub first_seen: u64,
    /// For `New`: a pinned tool, gone from the same list, whose definition
    /// is identical apart from the name (a likely rename).
    pub renamed_from: Option<String>,
    /// The listed definition (`Changed`, `New`).
    pub definition: Option<Value>,
}

/// One upstream's pins and pending changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpstreamPins {
    pub(crate) pinned: BTreeMap<String, PinnedTool>,
    pub(crate) pending: BTreeMap<String, PendingChange>,
}

/// A listed tool the store refused outright (malformed, oversized, or a
/// name listed twice). It is neither listed nor callable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedTool {
    /// The name, when one could be read (shortened, control characters replaced).
    pub name: Option<String>,
    /// Why.
    pub reason: &'static str,
}

/// What [`PinStore::observe_tools_list`](super::PinStore::observe_tools_list) decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PinOutcome {
    /// The tools to return to the client, in upstream order.
    pub allowed: Vec<Value>,
    /// Every pending change for the upstream after this list. In enforce
    /// mode these are held back; in warn mode they were passed but recorded.
    pub held: Vec<PendingChange>,
    /// Tools refused outright.
    pub rejected: Vec<RejectedTool>,
    /// True when pins or pending changes changed: save the state.
    pub state_changed: bool,
}

/// Which pending changes to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approve {
    /// The pending change of one tool.
    Tool(String),
    /// Every pending change of the upstream.
    All,
}
