//! Mapping a verified TLS client certificate to a principal.
//!
//! The listener verifies the chain; this module only sees the names it
//! extracted (SAN DNS names, SAN URIs, subject CN) and applies the
//! configured rules in order: the first rule that matches decides. No
//! matching rule: no principal (the connection is not authenticated).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Principal, PrincipalKind};
use crate::policy::Glob;

/// One mapping rule: exactly one of `san_dns`, `san_uri`, `cn` (a glob).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsRuleConfig {
    /// Match a SAN dNSName.
    pub san_dns: Option<String>,
    /// Match a SAN uniformResourceIdentifier (e.g. a SPIFFE id).
    pub san_uri: Option<String>,
    /// Match the subject common name (use SANs where possible).
    pub cn: Option<String>,
    /// The principal's subject; the matched name when absent.
    pub subject: Option<String>,
    /// Roles granted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The `[auth.mtls]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// PEM CA certificates that sign client certificates. With it, the
    /// listeners ask for (but do not require) a client certificate, and a
    /// verified one that matches a rule authenticates its holder.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<MtlsRuleConfig>,
}

/// Mapping failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtlsError {
    /// A rule is invalid.
    #[error("auth.mtls.rules[{index}]: {message}")]
    Config {
        /// Index of the rule.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// No rule matches the certificate's names.
    #[error("client certificate matches no mTLS rule")]
    NoMatchingRule,
    /// The certificate could not be parsed for names.
    #[error("client certificate could not be parsed")]
    BadCertificate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Dns,
    Uri,
    Cn,
}

#[derive(Debug, Clone)]
struct Rule {
    field: Field,
    pattern: Glob,
    subject: Option<String>,
    roles: BTreeSet<String>,
    scopes: BTreeSet<String>,
}

/// The names taken from a verified client certificate.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCertNames<'a> {
    /// SAN dNSName entries.
    pub dns: &'a [&'a str],
    /// SAN URI entries.
    pub uris: &'a [&'a str],
    /// Subject CN.
    pub common_name: Option<&'a str>,
}

/// Compiled rules.
#[derive(Debug, Clone, Default)]
pub struct MtlsMapper {
    rules: Vec<Rule>,
}

impl MtlsMapper {
    /// Compiles the rules.
    pub fn new(config: &MtlsConfig) -> Result<Self, MtlsError> {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let err = |message: String| MtlsError::Config { index, message };
                let (field, pattern) = match (&r.san_dns, &r.san_uri, &r.cn) {
                    (Some(p), None, None) => (Field::Dns, p),
                    (None, Some(p), None) => (Field::Uri, p),
                    (None, None, Some(p)) => (Field::Cn, p),
                    _ => return Err(err("set exactly one of san_dns, san_uri, cn".into())),
                };
                if pattern == "*" {
                    return Err(err("a bare `*` would map every certificate".into()));
                }
                if r.roles.is_empty() {
                    return Err(err("a rule must grant at least one role".into()));
                }
                let pattern = Glob::new(pattern).map_err(|e| err(e.to_string()))?;
                Ok(Rule {
                    field,
                    pattern,
                    subject: r.subject.clone(),
                    roles: r.roles.iter().cloned().collect(),
                    scopes: r.scopes.iter().cloned().collect(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The principal for a certificate's names.
    pub fn map(&self, names: &ClientCertNames<'_>) -> Result<Principal, MtlsError> {
        for rule in &self.rules {
            let candidates: &[&str] = match rule.field {
                Field::Dns => names.dns,
                Field::Uri => names.uris,
                Field::Cn => names.common_name.as_slice(),
            };
            let matched = candidates.iter().find(|n| {
                !n.is_empty() && !n.chars().any(char::is_control) && rule.pattern.matches(n)
            });
            if let Some(name) = matched {
                return Ok(Principal {
                    subject: rule.subject.clone().unwrap_or_else(|| (*name).to_owned()),
                    kind: PrincipalKind::Mtls,
                    scopes: rule.scopes.clone(),
                    roles: rule.roles.clone(),
                });
            }
        }
        Err(MtlsError::NoMatchingRule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(toml_rules: &str) -> Result<MtlsMapper, MtlsError> {
        let config: MtlsConfig = toml::from_str(toml_rules).expect("test config parses");
        MtlsMapper::new(&config)
    }

    const RULES: &str = r#"
        [[rules]]
        san_uri = "spiffe://example.test/agent/*"
        roles = ["agent"]
        scopes = ["mcp:call"]
        [[rules]]
        san_dns = "ci.example.test"
        subject = "ci"
        roles = ["ci"]
    "#;

    #[test]
    fn first_matching_rule_maps_the_certificate() {
        let m = mapper(RULES).expect("valid rules");
        let p = m
            .map(&ClientCertNames {
                uris: &["spiffe://example.test/agent/7"],
                dns: &["ci.example.test"],
                common_name: None,
            })
            .expect("matches");
        assert_eq!(p.subject, "spiffe://example.test/agent/7");
        assert_eq!(p.kind, PrincipalKind::Mtls);
        assert!(p.roles.contains("agent") && p.scopes.contains("mcp:call"));
        let ci = m
            .map(&ClientCertNames {
                dns: &["ci.example.test"],
                ..Default::default()
            })
            .expect("matches");
        assert_eq!((ci.subject.as_str(), ci.roles.contains("ci")), ("ci", true));
    }

    #[test]
    fn unmatched_certificates_get_no_principal() {
        let m = mapper(RULES).expect("valid rules");
        let names = ClientCertNames {
            dns: &["other.example.test"],
            uris: &["spiffe://evil.test/agent/7"],
            common_name: Some("ci.example.test"),
        };
        assert_eq!(m.map(&names), Err(MtlsError::NoMatchingRule));
        assert_eq!(
            MtlsMapper::default().map(&names),
            Err(MtlsError::NoMatchingRule)
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let both = "[[rules]]\nsan_dns = \"a\"\ncn = \"b\"\nroles = [\"r\"]";
        assert!(matches!(
            mapper(both),
            Err(MtlsError::Config { index: 0, .. })
        ));
        let star = "[[rules]]\ncn = \"*\"\nroles = [\"r\"]";
        assert!(
            mapper(star)
                .expect_err("bare star")
                .to_string()
                .contains("every certificate")
        );
        let no_roles = "[[rules]]\ncn = \"a\"";
        assert!(
            mapper(no_roles)
                .expect_err("no roles")
                .to_string()
                .contains("at least one role")
        );
        let unknown: Result<MtlsConfig, _> =
            toml::from_str("[[rules]]\ncn = \"a\"\nrole = [\"x\"]");
        assert!(
            unknown
                .expect_err("unknown field")
                .to_string()
                .contains("unknown field")
        );
    }
}
