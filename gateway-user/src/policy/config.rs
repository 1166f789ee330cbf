//! The `[policy]` configuration: roles → upstreams → what may be used.
//!
//! ```toml
//! [policy.roles.reader.upstreams.files]
//! tools = ["read_*", "list_dir"]
//! resources = ["file:///srv/docs/*"]
//! prompts = ["summarize"]
//! deny_tools = ["read_secret*"]
//!
//! [policy.upstreams.files]
//! required_scopes = ["mcp:files"]
//! ```
//!
//! The upstream name `*` in a role applies to every upstream.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Per-upstream requirements.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamPolicyConfig>,
}

/// One role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Free text for operators.
    #[serde(default)]
    pub description: Option<String>,
    /// What the role may use, per upstream name (or `*`).
    #[serde(default)]
    pub upstreams: BTreeMap<String, RuleConfig>,
}

/// What a role may use on one upstream. Each list holds globs
/// (`*` any run, `?` one character, `\` escapes). Denies win over allows,
/// across all of a principal's roles.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Tools that may be listed and called.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Resource URIs that may be listed and read.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Prompts that may be listed and fetched.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Further JSON-RPC methods beyond the lifecycle ones
    /// (e.g. `completion/complete`, `logging/setLevel`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Tools never allowed.
    #[serde(default)]
    pub deny_tools: Vec<String>,
    /// Resources never allowed.
    #[serde(default)]
    pub deny_resources: Vec<String>,
    /// Prompts never allowed.
    #[serde(default)]
    pub deny_prompts: Vec<String>,
}

/// Requirements for one upstream, whatever the role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamPolicyConfig {
    /// OAuth scopes a principal must hold for anything on this upstream;
    /// lacking one gives `insufficient_scope` (HTTP 403).
    #[serde(default)]
    pub required_scopes: Vec<String>,
}
