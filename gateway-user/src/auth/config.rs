//! The `[auth]` configuration section and what it builds.
//!
//! ```toml
//! [auth]
//! resource = "https://gw.example.test/mcp"     # tokens' required `aud`
//! issuer = "https://idp.example.test"          # the trusted `iss`
//! jwks_url = "https://idp.example.test/jwks"   # or jwks_file; neither = embedded issuer
//! scopes_supported = ["mcp:read", "mcp:call"]
//! [[auth.mtls.rules]]
//! san_uri = "spiffe://example.test/agent/*"
//! roles = ["agent"]
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use super::{
    issuer::{DEFAULT_AUDIENCE, DEFAULT_ISSUER},
    jwks_cache::JwksCacheConfig,
    jwt::{DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_BYTES, JwtConfig, JwtValidator},
    metadata::ResourceMetadata,
    mtls::{MtlsConfig, MtlsError, MtlsMapper},
};

/// The `[auth]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// This gateway's resource URI: the `aud` tokens must carry.
    pub resource: String,
    /// The one trusted issuer (`iss`).
    pub issuer: String,
    /// JWKS from a local file.
    pub jwks_file: Option<PathBuf>,
    /// JWKS from an HTTPS URL.
    pub jwks_url: Option<String>,
    /// PEM roots trusted for `jwks_url` (required with it).
    pub jwks_ca_file: Option<PathBuf>,
    /// Seconds a fetched JWKS is used before refreshing.
    pub jwks_cache_ttl_secs: u64,
    /// Least seconds between refreshes caused by unknown `kid`s.
    pub jwks_min_refresh_interval_secs: u64,
    /// Clock leeway for `exp`/`nbf`/`iat`.
    pub leeway_secs: u64,
    /// The claim holding roles.
    pub roles_claim: String,
    /// Largest bearer token accepted.
    pub max_token_bytes: usize,
    /// Listed in the RFC 9728 metadata; defaults to `[issuer]`.
    pub authorization_servers: Vec<String>,
    /// Listed in the RFC 9728 metadata and the 401 challenge.
    pub scopes_supported: Vec<String>,
    /// Client-certificate mapping.
    pub mtls: MtlsConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            resource: DEFAULT_AUDIENCE.into(),
            issuer: DEFAULT_ISSUER.into(),
            jwks_file: None,
            jwks_url: None,
            jwks_ca_file: None,
            jwks_cache_ttl_secs: JwksCacheConfig::default().ttl_secs,
            jwks_min_refresh_interval_secs: JwksCacheConfig::default().min_refresh_interval_secs,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            roles_claim: "roles".into(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            mtls: MtlsConfig::default(),
        }
    }
}

/// Where the trusted keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// The embedded issuer's keys in the state directory.
    Embedded,
    /// A JWKS file.
    File(PathBuf),
    /// An HTTPS URL.
    Url(String),
}

/// An `[auth]` section that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth.{field}: {message}")]
pub struct AuthConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Everything the gateway needs, built from a valid [`AuthConfig`].
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Token checks.
    pub validator: JwtValidator,
    /// Where keys come from.
    pub jwks_source: JwksSource,
    /// Cache timing.
    pub jwks_cache: JwksCacheConfig,
    /// The metadata document for `resource`.
    pub metadata: ResourceMetadata,
    /// Certificate mapping.
    pub mtls: MtlsMapper,
}

fn err(field: &'static str, message: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        field,
        message: message.into(),
    }
}

fn check_https(field: &'static str, url: &str) -> Result<(), AuthConfigError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| err(field, format!("{url:?} must be an https:// URL")))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(err(field, format!("{url:?} is not a valid URL")));
    }
    Ok(())
}

impl AuthConfig {
    /// Validates the section and builds the settings.
    pub fn build(&self) -> Result<AuthSettings, AuthConfigError> {
        check_https("resource", &self.resource)?;
        check_https("issuer", &self.issuer)?;
        let jwks_source = match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => {
                return Err(err("jwks_url", "set jwks_file or jwks_url, not both"));
            }
            (Some(path), None) => JwksSource::File(path.clone()),
            (None, Some(url)) => {
                check_https("jwks_url", url)?;
                JwksSource::Url(url.clone())
            }
            (None, None) => JwksSource::Embedded,
        };
        if self.leeway_secs > 300 {
            return Err(err("leeway_secs", "at most 300 seconds"));
        }
        if !(1024..=64 * 1024).contains(&self.max_token_bytes) {
            return Err(err("max_token_bytes", "between 1024 and 65536"));
        }
        if self.roles_claim.is_empty() {
            return Err(err("roles_claim", "must not be empty"));
        }
        if self.jwks_min_refresh_interval_secs == 0 || self.jwks_cache_ttl_secs == 0 {
            return Err(err(
                "jwks_min_refresh_interval_secs",
                "JWKS timings must be above zero",
            ));
        }
        for server in &self.authorization_servers {
            check_https("authorization_servers", server)?;
        }
        let mtls = MtlsMapper::new(&self.mtls).map_err(|e| match e {
            MtlsError::Config { index, message } => {
                err("mtls", format!("rules[{index}]: {message}"))
            }
            other => err("mtls", other.to_string()),
        })?;
        let servers = if self.authorization_servers.is_empty() {
            vec![self.issuer.clone()]
        } else {
            self.authorization_servers.clone()
        };
        let validator = JwtValidator::new(JwtConfig {
            issuer: self.issuer.clone(),
            audience: self.resource.clone(),
            leeway_secs: self.leeway_secs,
            roles_claim: self.roles_claim.clone(),
            max_token_bytes: self.max_token_bytes,
        });
        Ok(AuthSettings {
            validator,
            jwks_source,
            jwks_cache: JwksCacheConfig {
                ttl_secs: self.jwks_cache_ttl_secs,
                min_refresh_interval_secs: self.jwks_min_refresh_interval_secs,
            },
            metadata: ResourceMetadata::new(&self.resource, servers, self.scopes_supported.clone()),
            mtls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(toml_text: &str) -> Result<AuthSettings, AuthConfigError> {
        let config: AuthConfig = toml::from_str(toml_text).expect("test config parses");
        config.build()
    }

    #[test]
    fn defaults_trust_the_embedded_issuer() {
        let s = build("").expect("defaults are valid");
        assert_eq!(s.jwks_source, JwksSource::Embedded);
        assert_eq!(s.validator.config().issuer, DEFAULT_ISSUER);
        assert_eq!(s.validator.config().audience, DEFAULT_AUDIENCE);
        assert_eq!(
            s.metadata.authorization_servers,
            vec![DEFAULT_ISSUER.to_string()]
        );
    }

    #[test]
    fn external_idp_settings_are_used() {
        let s = build(
            r#"
            resource = "https://gw.example.test/mcp"
            issuer = "https://idp.example.test"
            jwks_url = "https://idp.example.test/jwks"
            roles_claim = "groups"
            scopes_supported = ["mcp:read"]
            "#,
        )
        .expect("valid");
        assert_eq!(
            s.jwks_source,
            JwksSource::Url("https://idp.example.test/jwks".into())
        );
        assert_eq!(s.validator.config().roles_claim, "groups");
        assert_eq!(s.metadata.scopes_supported, vec!["mcp:read".to_string()]);
    }

    #[test]
    fn bad_auth_config_is_refused_with_the_field() {
        let cases = [
            (
                r#"jwks_url = "http://idp.example.test/jwks""#,
                "auth.jwks_url: \"http://idp.example.test/jwks\" must be an https:// URL",
            ),
            (
                "jwks_url = \"https://a/j\"\njwks_file = \"/x\"",
                "auth.jwks_url: set jwks_file or jwks_url, not both",
            ),
            (
                "leeway_secs = 3600",
                "auth.leeway_secs: at most 300 seconds",
            ),
            (
                r#"issuer = "https://""#,
                "auth.issuer: \"https://\" is not a valid URL",
            ),
            (
                "[[mtls.rules]]\ncn = \"a\"",
                "auth.mtls: rules[0]: a rule must grant at least one role",
            ),
        ];
        for (text, expect) in cases {
            assert_eq!(build(text).expect_err(expect).to_string(), expect);
        }
        let unknown: Result<AuthConfig, _> = toml::from_str("audience = \"https://x\"");
        assert!(
            unknown
                .expect_err("unknown")
                .to_string()
                .contains("unknown field `audience`")
        );
    }
}
