//! Filtering list responses to what the principal may use.
//!
//! Each helper takes the JSON-RPC `result` of a list response and removes
//! the entries the principal could not use; entries that are not objects
//! or lack the identifying string are removed too. A `result` that is not
//! the expected shape is an error (the gateway then fails the response).
//! A principal without access to the upstream gets an empty list.

use super::decide::{Decision, Kind, Policy};
use crate::auth::Principal;

/// A list response that is not the MCP shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("list result has no `{0}` array")]
pub struct FilterError(pub &'static str);

impl Policy {
    fn filter(
        &self,
        principal: &Principal,
        upstream: &str,
        result: &mut serde_json::Value,
        list: &'static str,
        id_field: &str,
        kind: Kind,
    ) -> Result<usize, FilterError> {
        let items = result
            .get_mut(list)
            .and_then(serde_json::Value::as_array_mut)
            .ok_or(FilterError(list))?;
        let rules = self.rules_for(principal, upstream);
        let scopes_ok =
            principal.has_scopes(self.required_scopes(upstream).iter().map(String::as_str));
        let before = items.len();
        items.retain(|item| {
            let id = item.get(id_field).and_then(serde_json::Value::as_str);
            match id {
                Some(id) if scopes_ok && !rules.is_empty() => {
                    Self::name_decision(&rules, kind, id) == Decision::Allow
                }
                _ => false,
            }
        });
        Ok(before - items.len())
    }

    /// Filters a `tools/list` result (`tools[].name`). Returns how many
    /// entries were removed.
    pub fn filter_tools_list(
        &self,
        principal: &Principal,
        upstream: &str,
        result: &mut serde_json::Value,
    ) -> Result<usize, FilterError> {
        self.filter(principal, upstream, result, "tools", "name", Kind::Tool)
    }

    /// Filters a `resources/list` result (`resources[].uri`).
    pub fn filter_resources_list(
        &self,
        principal: &Principal,
        upstream: &str,
        result: &mut serde_json::Value,
    ) -> Result<usize, FilterError> {
        self.filter(
            principal,
            upstream,
            result,
            "resources",
            "uri",
            Kind::Resource,
        )
    }

    /// Filters a `resources/templates/list` result
    /// (`resourceTemplates[].uriTemplate`). A template is kept when the
    /// template text itself matches a resource pattern (so
    /// `file:///srv/docs/{name}` is kept by `file:///srv/docs/*`); each
    /// concrete read is still checked on its own.
    pub fn filter_resource_templates_list(
        &self,
        principal: &Principal,
        upstream: &str,
        result: &mut serde_json::Value,
    ) -> Result<usize, FilterError> {
        self.filter(
            principal,
            upstream,
            result,
            "resourceTemplates",
            "uriTemplate",
            Kind::Resource,
        )
    }

    /// Filters a `prompts/list` result (`prompts[].name`).
    pub fn filter_prompts_list(
        &self,
        principal: &Principal,
        upstream: &str,
        result: &mut serde_json::Value,
    ) -> Result<usize, FilterError> {
        self.filter(principal, upstream, result, "prompts", "name", Kind::Prompt)
    }
}
