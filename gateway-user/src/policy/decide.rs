//! The compiled policy and the authorization decision.

use std::collections::HashMap;

use super::{
    action::{Action, LIFECYCLE_METHODS},
    config::{PolicyConfig, RuleConfig},
    glob::Glob,
};
use crate::auth::Principal;

/// The text every denial carries to the client: it never says whether the
/// tool, resource or prompt exists.
pub const DENIED_BY_POLICY: &str = "denied by policy";

/// The upstream key that applies to all upstreams.
pub const ANY_UPSTREAM: &str = "*";

/// A policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// Dotted path of the field, e.g. `policy.roles.reader.upstreams.files.tools[1]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why something was denied (for audit; the client only sees
/// [`DENIED_BY_POLICY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// None of the principal's roles grants anything on this upstream.
    NoAccessToUpstream,
    /// No allow rule matches.
    NoMatchingRule,
    /// An explicit deny matches.
    ExplicitDeny,
    /// A method outside the lifecycle set and the role's `methods`.
    MethodNotAllowed,
}

impl DenyReason {
    /// Stable name for `authz.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAccessToUpstream => "no_access_to_upstream",
            Self::NoMatchingRule => "no_matching_rule",
            Self::ExplicitDeny => "explicit_deny",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }
}

/// The outcome of [`Policy::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead (list responses still get filtered).
    Allow,
    /// Refuse with [`DENIED_BY_POLICY`].
    Deny(DenyReason),
    /// Refuse with HTTP 403 `insufficient_scope`, naming these scopes.
    InsufficientScope(Vec<String>),
}

impl Decision {
    /// Whether this allows the action.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Globs(Vec<Glob>);

impl Globs {
    fn compile(field: &str, patterns: &[String]) -> Result<Self, PolicyError> {
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Glob::new(p).map_err(|e| PolicyError {
                    field: format!("{field}[{i}]"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub(super) fn matches(&self, s: &str) -> bool {
        self.0.iter().any(|g| g.matches(s))
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Rules {
    tools: Globs,
    resources: Globs,
    prompts: Globs,
    methods: Globs,
    deny_tools: Globs,
    deny_resources: Globs,
    deny_prompts: Globs,
}

impl Rules {
    /// The allow and deny lists for `kind`.
    fn lists(&self, kind: Kind) -> (&Globs, &Globs) {
        match kind {
            Kind::Tool => (&self.tools, &self.deny_tools),
            Kind::Resource => (&self.resources, &self.deny_resources),
            Kind::Prompt => (&self.prompts, &self.deny_prompts),
        }
    }

    fn compile(field: &str, c: &RuleConfig) -> Result<Self, PolicyError> {
        let f = |name: &str| format!("{field}.{name}");
        Ok(Self {
            tools: Globs::compile(&f("tools"), &c.tools)?,
            resources: Globs::compile(&f("resources"), &c.resources)?,
            prompts: Globs::compile(&f("prompts"), &c.prompts)?,
            methods: Globs::compile(&f("methods"), &c.methods)?,
            deny_tools: Globs::compile(&f("deny_tools"), &c.deny_tools)?,
            deny_resources: Globs::compile(&f("deny_resources"), &c.deny_resources)?,
            deny_prompts: Globs::compile(&f("deny_prompts"), &c.deny_prompts)?,
        })
    }
}

/// The compiled policy. Default (empty) denies everything.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// role → upstream (or `*`) → rules.
    roles: HashMap<String, HashMap<String, Rules>>,
    required_scopes: HashMap<String, Vec<String>>,
}

fn check_name(field: String, name: &str) -> Result<(), PolicyError> {
    if name.is_empty()
        || name.len() > 256
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(PolicyError {
            field,
            message: format!("{name:?} is not a valid name"),
        });
    }
    Ok(())
}

/// Which list a name is checked against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Policy {
    /// Compiles and validates `config`.
    pub fn from_config(config: &PolicyConfig) -> Result<Self, PolicyError> {
        let mut roles = HashMap::new();
        for (role, role_config) in &config.roles {
            check_name(format!("policy.roles.{role}"), role)?;
            let mut upstreams = HashMap::new();
            for (upstream, rules) in &role_config.upstreams {
                let field = format!("policy.roles.{role}.upstreams.{upstream}");
                check_name(field.clone(), upstream)?;
                upstreams.insert(upstream.clone(), Rules::compile(&field, rules)?);
            }
            roles.insert(role.clone(), upstreams);
        }
        let mut required_scopes = HashMap::new();
        for (upstream, u) in &config.upstreams {
            let field = format!("policy.upstreams.{upstream}.required_scopes");
            for (i, scope) in u.required_scopes.iter().enumerate() {
                check_name(format!("{field}[{i}]"), scope)?;
            }
            required_scopes.insert(upstream.clone(), u.required_scopes.clone());
        }
        Ok(Self {
            roles,
            required_scopes,
        })
    }

    /// The rule sets that apply to `principal` on `upstream`.
    pub(super) fn rules_for<'a>(
        &'a self,
        principal: &'a Principal,
        upstream: &'a str,
    ) -> Vec<&'a Rules> {
        principal
            .roles
            .iter()
            .filter_map(|role| self.roles.get(role))
            .flat_map(|ups| [ups.get(upstream), ups.get(ANY_UPSTREAM)])
            .flatten()
            .collect()
    }

    /// The scopes required on `upstream` (for `WWW-Authenticate` and metadata).
    pub fn required_scopes(&self, upstream: &str) -> &[String] {
        self.required_scopes
            .get(upstream)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether `name` of `kind` is allowed by these rule sets: some allow
    /// matches and no deny matches.
    pub(super) fn name_decision(rules: &[&Rules], kind: Kind, name: &str) -> Decision {
        if rules.iter().any(|r| r.lists(kind).1.matches(name)) {
            Decision::Deny(DenyReason::ExplicitDeny)
        } else if rules.iter().any(|r| r.lists(kind).0.matches(name)) {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::NoMatchingRule)
        }
    }

    /// Decides whether `principal` may do `action` on `upstream`.
    /// Checked for every message, including those in an existing session.
    pub fn authorize(&self, principal: &Principal, upstream: &str, action: Action<'_>) -> Decision {
        let rules = self.rules_for(principal, upstream);
        if rules.is_empty() {
            return Decision::Deny(DenyReason::NoAccessToUpstream);
        }
        let required = self.required_scopes(upstream);
        if !principal.has_scopes(required.iter().map(String::as_str)) {
            return Decision::InsufficientScope(required.to_vec());
        }
        match action {
            Action::CallTool(name) => Self::name_decision(&rules, Kind::Tool, name),
            Action::ReadResource(uri) => Self::name_decision(&rules, Kind::Resource, uri),
            Action::GetPrompt(name) => Self::name_decision(&rules, Kind::Prompt, name),
            Action::ListTools
            | Action::ListResources
            | Action::ListResourceTemplates
            | Action::ListPrompts => Decision::Allow,
            Action::Method(method) => {
                if LIFECYCLE_METHODS.contains(&method)
                    || rules.iter().any(|r| r.methods.matches(method))
                {
                    Decision::Allow
                } else {
                    Decision::Deny(DenyReason::MethodNotAllowed)
                }
            }
        }
    }
}
