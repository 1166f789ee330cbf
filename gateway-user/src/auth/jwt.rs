//! Bearer JWT access tokens (JWS compact serialization) as an OAuth 2.1
//! resource server sees them: parse strictly, verify the signature with a
//! key of the header's algorithm, then check the claims.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{
    Principal, PrincipalKind,
    jwk::{Alg, JwkSet, VerifyingKey, b64url},
    strict_json::StrictObject,
};

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Default clock leeway for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
const MAX_CLAIM_STR: usize = 1024;
const MAX_LIST: usize = 256;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Longer than the configured limit.
    #[error("token is too large")]
    TooLarge,
    /// Not three base64url segments of JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`.
    #[error("unsigned tokens (alg none) are not accepted")]
    AlgNone,
    /// HS256/HS384/HS512: shared-secret algorithms are never accepted.
    #[error("HMAC algorithms are not accepted")]
    Hmac,
    /// Any other algorithm.
    #[error("algorithm is not accepted (EdDSA, ES256, RS256 only)")]
    UnsupportedAlg,
    /// The header has `crit`: we understand no extensions.
    #[error("critical header extensions are not supported")]
    CriticalHeader,
    /// `typ` is not a JWT access token type.
    #[error("token type is not a JWT")]
    BadType,
    /// No `kid`, and the key set has more than one key.
    #[error("token has no kid and the key set is ambiguous")]
    MissingKid,
    /// No key with this `kid`.
    #[error("no key with this kid")]
    UnknownKid,
    /// The key is for another algorithm than the header names.
    #[error("key does not match the token's algorithm")]
    AlgKeyMismatch,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an unacceptable value.
    #[error("claim `{0}` is invalid")]
    BadClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("token is from another issuer")]
    WrongIssuer,
    /// `aud` does not name this resource.
    #[error("token is for another audience")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
}

/// How tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// This resource's URI: `aud` must contain it (RFC 8707) unless a
    /// route passes its own.
    pub audience: String,
    /// Leeway for `exp`, `nbf`, `iat`, in seconds.
    pub leeway_secs: u64,
    /// The claim holding roles (a string or an array of strings). A dotted
    /// path (`realm_access.roles`) is followed when no claim has the exact name.
    pub roles_claim: String,
    /// Largest token accepted.
    pub max_token_bytes: usize,
}

impl JwtConfig {
    /// Defaults for everything but the issuer and audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            roles_claim: "roles".into(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    // Other members (`jwk`, `jku`, `x5u`, `x5c`: embedded or remote keys)
    // are never acted on, so their presence changes nothing.
}

/// A token whose structure and header are acceptable, signature unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedJwt<'a> {
    alg: Alg,
    kid: Option<String>,
    signing_input: &'a str,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

impl<'a> UnverifiedJwt<'a> {
    /// Splits and decodes a compact JWS, checking the header.
    pub fn parse(token: &'a str, max_bytes: usize) -> Result<Self, JwtError> {
        if token.len() > max_bytes {
            return Err(JwtError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("expected three segments"));
        };
        if h.is_empty() || p.is_empty() {
            return Err(JwtError::Malformed("empty segment"));
        }
        let header_bytes = b64url(h).ok_or(JwtError::Malformed("header is not base64url"))?;
        let header: StrictObject = serde_json::from_slice(&header_bytes)
            .map_err(|_| JwtError::Malformed("header is not a JSON object"))?;
        if header.0.contains_key("crit") {
            return Err(JwtError::CriticalHeader);
        }
        let header: Header = serde_json::from_value(serde_json::Value::Object(header.0))
            .map_err(|_| JwtError::Malformed("header members have the wrong types"))?;
        let alg = match header.alg.as_str() {
            "none" | "None" | "NONE" => return Err(JwtError::AlgNone),
            a if a.starts_with("HS") => return Err(JwtError::Hmac),
            a => Alg::from_name(a).ok_or(JwtError::UnsupportedAlg)?,
        };
        if let Some(typ) = &header.typ {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            if typ != "jwt" && typ != "at+jwt" {
                return Err(JwtError::BadType);
            }
        }
        if s.is_empty() {
            return Err(JwtError::Malformed("empty signature"));
        }
        let signature = b64url(s).ok_or(JwtError::Malformed("signature is not base64url"))?;
        let payload = b64url(p).ok_or(JwtError::Malformed("payload is not base64url"))?;
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(JwtError::Malformed("segments"))?;
        Ok(Self {
            alg,
            kid: header.kid,
            signing_input,
            signature,
            payload,
        })
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }
}

/// Checks tokens against one configuration.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    config: JwtConfig,
}

impl JwtValidator {
    /// A validator for `config`.
    pub fn new(config: JwtConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Parses with the configured size limit.
    pub fn parse<'a>(&self, token: &'a str) -> Result<UnverifiedJwt<'a>, JwtError> {
        UnverifiedJwt::parse(token, self.config.max_token_bytes)
    }

    /// Parses, picks the key from `keys` and verifies.
    pub fn verify_with_set(
        &self,
        token: &str,
        keys: &JwkSet,
        audience: Option<&str>,
        now: u64,
    ) -> Result<Principal, JwtError> {
        let jwt = self.parse(token)?;
        let key = match jwt.kid() {
            Some(kid) => keys.get(kid).ok_or(JwtError::UnknownKid)?,
            None => keys.only_key().ok_or(JwtError::MissingKid)?,
        };
        self.verify(&jwt, key, audience, now)
    }

    /// Verifies the signature with `key`, then the claims. `audience`
    /// overrides the configured one (per-route resource URIs).
    pub fn verify(
        &self,
        jwt: &UnverifiedJwt<'_>,
        key: &VerifyingKey,
        audience: Option<&str>,
        now: u64,
    ) -> Result<Principal, JwtError> {
        self.verify_until(jwt, key, audience, now).map(|(p, _)| p)
    }

    /// [`verify`](Self::verify), also returning the first Unix second at
    /// which the token is no longer accepted (`exp` plus leeway).
    pub fn verify_until(
        &self,
        jwt: &UnverifiedJwt<'_>,
        key: &VerifyingKey,
        audience: Option<&str>,
        now: u64,
    ) -> Result<(Principal, u64), JwtError> {
        if key.alg() != jwt.alg {
            return Err(JwtError::AlgKeyMismatch);
        }
        key.verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .map_err(|_| JwtError::BadSignature)?;
        let claims: StrictObject = serde_json::from_slice(&jwt.payload)
            .map_err(|_| JwtError::Malformed("payload is not a JSON object"))?;
        self.check_claims(&claims.0, audience.unwrap_or(&self.config.audience), now)
    }

    fn check_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
        audience: &str,
        now: u64,
    ) -> Result<(Principal, u64), JwtError> {
        let leeway = self.config.leeway_secs;
        let iss = string_claim(claims, "iss")?.ok_or(JwtError::MissingClaim("iss"))?;
        if iss != self.config.issuer {
            return Err(JwtError::WrongIssuer);
        }
        let aud = claims.get("aud").ok_or(JwtError::MissingClaim("aud"))?;
        let aud = string_list(aud).ok_or(JwtError::BadClaim("aud"))?;
        if !aud.contains(&audience) {
            return Err(JwtError::WrongAudience);
        }
        let exp = date_claim(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        for name in ["nbf", "iat"] {
            if let Some(t) = date_claim(claims, name)?
                && t > now.saturating_add(leeway)
            {
                return Err(JwtError::NotYetValid);
            }
        }
        let subject = string_claim(claims, "sub")?.ok_or(JwtError::MissingClaim("sub"))?;
        if subject.is_empty() || subject.chars().any(char::is_control) {
            return Err(JwtError::BadClaim("sub"));
        }
        let mut scopes = BTreeSet::new();
        if let Some(scope) = string_claim(claims, "scope")? {
            scopes.extend(scope.split_ascii_whitespace().map(str::to_owned));
        }
        if let Some(scp) = claims.get("scp") {
            let list = string_list(scp).ok_or(JwtError::BadClaim("scp"))?;
            scopes.extend(list.into_iter().map(str::to_owned));
        }
        let roles = match lookup_path(claims, &self.config.roles_claim) {
            None => BTreeSet::new(),
            Some(v) => string_list(v)
                .ok_or(JwtError::BadClaim("roles"))?
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        if scopes.len() > MAX_LIST || roles.len() > MAX_LIST {
            return Err(JwtError::BadClaim("scope"));
        }
        let principal = Principal {
            subject: subject.to_owned(),
            kind: PrincipalKind::Jwt,
            scopes,
            roles,
        };
        Ok((principal, exp.saturating_add(leeway)))
    }
}

fn string_claim<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if s.len() <= MAX_CLAIM_STR * 8 => Ok(Some(s)),
        Some(_) => Err(JwtError::BadClaim(name)),
    }
}

/// A NumericDate: non-negative, integer or fractional (floored).
fn date_claim(
    claims: &serde_json::Map<String, serde_json::Value>,
    name: &'static str,
) -> Result<Option<u64>, JwtError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let n = value.as_number().ok_or(JwtError::BadClaim(name))?;
    if let Some(secs) = n.as_u64() {
        return Ok(Some(secs));
    }
    match n.as_f64() {
        Some(f) if (0.0..1.0e15).contains(&f) => Ok(Some(f.floor() as u64)),
        _ => Err(JwtError::BadClaim(name)),
    }
}

/// A string, or an array of strings (bounded).
fn string_list(value: &serde_json::Value) -> Option<Vec<&str>> {
    let ok = |s: &str| s.len() <= MAX_CLAIM_STR && !s.chars().any(char::is_control);
    match value {
        serde_json::Value::String(s) if ok(s) => Some(vec![s.as_str()]),
        serde_json::Value::Array(items) if items.len() <= MAX_LIST => {
            items.iter().map(|v| v.as_str().filter(|s| ok(s))).collect()
        }
        _ => None,
    }
}

fn lookup_path<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}
