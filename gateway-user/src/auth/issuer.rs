//! The embedded token issuer: Ed25519-signed JWT access tokens from a local
//! key, for setups with no external identity provider. Sans-IO; see
//! `issuer_file` for the key files.

use std::collections::BTreeSet;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    digest,
    rand::SecureRandom,
    signature::{Ed25519KeyPair, KeyPair as _},
};
use serde::{Deserialize, Serialize};

use super::{
    jwk::{JwkSet, VerifyingKey, b64url},
    jwt::DEFAULT_LEEWAY_SECS,
};

/// Default issuer identifier.
pub const DEFAULT_ISSUER: &str = "https://127.0.0.1:8443";
/// Default audience: the gateway's MCP resource.
pub const DEFAULT_AUDIENCE: &str = "https://127.0.0.1:8443/mcp";
/// Default longest token lifetime (also how long a retired key stays published).
pub const DEFAULT_MAX_TTL_SECS: u64 = 24 * 3600;

/// Issuing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// The PKCS#8 document is not an Ed25519 key.
    #[error("signing key is not a valid Ed25519 PKCS#8 key")]
    BadKey,
    /// A retired key entry is malformed.
    #[error("retired key {0:?} is malformed")]
    BadRetiredKey(String),
    /// TTL zero or above the maximum.
    #[error("token lifetime must be between 1 second and {max} seconds")]
    BadTtl {
        /// The maximum.
        max: u64,
    },
    /// Empty or odd subject, role or scope.
    #[error("bad {0}: {1:?}")]
    BadName(&'static str, String),
    /// The system RNG failed.
    #[error("the system random number generator failed")]
    Rng,
}

/// Issuer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// `iss` of issued tokens.
    pub issuer: String,
    /// `aud` when a request names none.
    pub default_audience: String,
    /// Longest token lifetime.
    pub max_ttl_secs: u64,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.into(),
            default_audience: DEFAULT_AUDIENCE.into(),
            max_ttl_secs: DEFAULT_MAX_TTL_SECS,
        }
    }
}

/// A previous signing key's public half, published until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredKey {
    /// Its key id.
    pub kid: String,
    /// The Ed25519 public key, base64url.
    pub x: String,
    /// Unix seconds after which no token it signed can still be valid.
    pub until: u64,
}

/// What to put in a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// `sub`.
    pub subject: String,
    /// Roles.
    pub roles: BTreeSet<String>,
    /// Scopes.
    pub scopes: BTreeSet<String>,
    /// Lifetime in seconds.
    pub ttl_secs: u64,
    /// `aud`; the configured default when `None`.
    pub audience: Option<String>,
}

/// The issuer: the current signing key and the retired public keys.
#[derive(Debug)]
pub struct Issuer {
    config: IssuerConfig,
    key: Ed25519KeyPair,
    kid: String,
    retired: Vec<RetiredKey>,
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key.
pub fn ed25519_kid(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// A new Ed25519 signing key as PKCS#8 v2 DER.
pub fn generate_signing_key(rng: &dyn SecureRandom) -> Result<Vec<u8>, IssuerError> {
    Ed25519KeyPair::generate_pkcs8(rng)
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| IssuerError::Rng)
}

fn check_name(what: &'static str, s: &str) -> Result<(), IssuerError> {
    if s.is_empty() || s.len() > 256 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(IssuerError::BadName(what, s.to_owned()));
    }
    Ok(())
}

impl Issuer {
    /// An issuer signing with `pkcs8`, also publishing `retired` keys.
    pub fn new(
        config: IssuerConfig,
        pkcs8: &[u8],
        retired: Vec<RetiredKey>,
    ) -> Result<Self, IssuerError> {
        let key =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| IssuerError::BadKey)?;
        for r in &retired {
            if b64url(&r.x).is_none_or(|x| x.len() != 32) {
                return Err(IssuerError::BadRetiredKey(r.kid.clone()));
            }
        }
        let kid = ed25519_kid(key.public_key().as_ref());
        Ok(Self {
            config,
            key,
            kid,
            retired,
        })
    }

    /// The current key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The settings.
    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// Retired keys still on record.
    pub fn retired(&self) -> &[RetiredKey] {
        &self.retired
    }

    /// The retired list after retiring the current key at `now`: it stays
    /// published for the longest token lifetime plus the verifier's leeway;
    /// entries already past their time are dropped.
    pub fn retire_current(&self, now: u64) -> Vec<RetiredKey> {
        let mut retired: Vec<_> = self
            .retired
            .iter()
            .filter(|r| r.until > now && r.kid != self.kid)
            .cloned()
            .collect();
        retired.push(RetiredKey {
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref()),
            until: now
                .saturating_add(self.config.max_ttl_secs)
                .saturating_add(DEFAULT_LEEWAY_SECS),
        });
        retired
    }

    /// The keys to trust at `now`: current plus unexpired retired ones.
    pub fn jwk_set(&self, now: u64) -> JwkSet {
        let mut keys: Vec<_> =
            VerifyingKey::ed25519(Some(self.kid.clone()), self.key.public_key().as_ref())
                .into_iter()
                .collect();
        for r in self
            .retired
            .iter()
            .filter(|r| r.until > now && r.kid != self.kid)
        {
            if let Some(key) =
                b64url(&r.x).and_then(|x| VerifyingKey::ed25519(Some(r.kid.clone()), &x))
            {
                keys.push(key);
            }
        }
        JwkSet::from_keys(keys)
    }

    /// The published JWKS document at `now`.
    pub fn jwks_json(&self, now: u64) -> Vec<u8> {
        serde_json::to_vec(&self.jwk_set(now).to_json()).unwrap_or_default()
    }

    /// Signs an access token (RFC 9068 shape, `typ: at+jwt`).
    pub fn issue(
        &self,
        rng: &dyn SecureRandom,
        request: &TokenRequest,
        now: u64,
    ) -> Result<String, IssuerError> {
        let max = self.config.max_ttl_secs;
        if request.ttl_secs == 0 || request.ttl_secs > max {
            return Err(IssuerError::BadTtl { max });
        }
        check_name("subject", &request.subject)?;
        for name in request.roles.iter().chain(&request.scopes) {
            check_name("role or scope", name)?;
        }
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| IssuerError::Rng)?;
        let header = serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid});
        let mut claims = serde_json::json!({
            "iss": self.config.issuer,
            "sub": request.subject,
            "aud": request.audience.as_deref().unwrap_or(&self.config.default_audience),
            "client_id": "portcullis-token-cli",
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(request.ttl_secs),
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "roles": request.roles,
        });
        if !request.scopes.is_empty() {
            let scope: Vec<&str> = request.scopes.iter().map(String::as_str).collect();
            claims["scope"] = scope.join(" ").into();
        }
        let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", encode(&header), encode(&claims));
        let signature = self.key.sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}
