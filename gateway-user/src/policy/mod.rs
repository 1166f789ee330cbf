//! Authorization: what a principal may do on which upstream. Least
//! privilege and default deny: a principal with no matching rule can do
//! nothing, explicit denies win over allows, and every denial reads
//! [`DENIED_BY_POLICY`] to the client. Sans-IO.

mod action;
mod config;
mod decide;
mod filter;
mod glob;

pub use action::{Action, ClassifyError, LIFECYCLE_METHODS};
pub use config::{PolicyConfig, RoleConfig, RuleConfig, UpstreamPolicyConfig};
pub use decide::{ANY_UPSTREAM, DENIED_BY_POLICY, Decision, DenyReason, Policy, PolicyError};
pub use filter::FilterError;
pub use glob::{Glob, GlobError, MAX_GLOB_LEN};

#[cfg(test)]
mod tests;
