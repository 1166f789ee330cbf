//! One step of authenticating a request's bearer credential, sans-IO.

use super::{
    Principal,
    apikey::{ApiKeyError, ApiKeyStore},
    extract::{Credential, ExtractError},
    jwks_cache::{JwksCache, KeyLookup},
    jwt::{JwtError, JwtValidator},
    mtls::MtlsError,
    token_cache::TokenCache,
};

/// Why a request is not authenticated. Maps to 401 (or 400 for requests
/// that are malformed as HTTP) in one place in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential, or one in the wrong place.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// A JWT was refused.
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// An API key was refused.
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    /// A client certificate was refused.
    #[error(transparent)]
    Mtls(#[from] MtlsError),
}

impl AuthError {
    /// Whether the request presented a credential (then the 401 challenge
    /// carries `error="invalid_token"`).
    pub fn token_presented(&self) -> bool {
        !matches!(self, Self::Extract(ExtractError::Missing))
    }

    /// Whether the request is malformed rather than unauthenticated
    /// (400 `invalid_request` instead of 401).
    pub fn is_invalid_request(&self) -> bool {
        matches!(
            self,
            Self::Extract(
                ExtractError::TokenInQuery | ExtractError::Duplicate | ExtractError::Malformed
            )
        )
    }

    /// A short stable code for audit records (`auth.error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Extract(ExtractError::Missing) => "missing_credential",
            Self::Extract(ExtractError::TokenInQuery) => "token_in_query",
            Self::Extract(_) => "malformed_authorization",
            Self::Jwt(JwtError::Expired) => "token_expired",
            Self::Jwt(JwtError::NotYetValid) => "token_not_yet_valid",
            Self::Jwt(JwtError::UnknownKid) => "unknown_kid",
            Self::Jwt(JwtError::BadSignature) => "bad_signature",
            Self::Jwt(JwtError::WrongIssuer) => "wrong_issuer",
            Self::Jwt(JwtError::WrongAudience) => "wrong_audience",
            Self::Jwt(JwtError::AlgNone | JwtError::Hmac | JwtError::UnsupportedAlg) => "bad_alg",
            Self::Jwt(JwtError::AlgKeyMismatch) => "alg_key_mismatch",
            Self::Jwt(_) => "invalid_token",
            Self::ApiKey(ApiKeyError::Revoked) => "api_key_revoked",
            Self::ApiKey(ApiKeyError::RotatedOut) => "api_key_rotated",
            Self::ApiKey(ApiKeyError::Expired) => "api_key_expired",
            Self::ApiKey(_) => "invalid_api_key",
            Self::Mtls(_) => "mtls_unmapped",
        }
    }
}

/// The result of one [`BearerVerifier::authenticate`] step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Decided.
    Done(Result<Principal, AuthError>),
    /// Fetch the JWKS, feed it to the cache
    /// ([`JwksCache::update_from_bytes`] or [`JwksCache::refresh_failed`]),
    /// then call again with the same inputs. The cache's rate limit makes
    /// the second call decide.
    RefreshJwks,
}

/// The verifiers and stores one bearer check uses.
#[derive(Debug)]
pub struct BearerVerifier<'a> {
    /// Token checks.
    pub validator: &'a JwtValidator,
    /// Keys, and when to refresh them.
    pub jwks: &'a mut JwksCache,
    /// Tokens verified recently.
    pub tokens: &'a mut TokenCache,
    /// API keys.
    pub api_keys: &'a ApiKeyStore,
}

impl BearerVerifier<'_> {
    /// Authenticates a bearer credential: an API key against the store, a
    /// JWT against the token cache, then the validator with the key cache.
    /// `audience` overrides the configured resource URI for this route.
    pub fn authenticate(
        &mut self,
        credential: Credential<'_>,
        audience: Option<&str>,
        now: u64,
    ) -> AuthStep {
        let token = match credential {
            Credential::ApiKey(key) => {
                return AuthStep::Done(self.api_keys.verify(key, now).map_err(Into::into));
            }
            Credential::Jwt(token) => token,
        };
        let effective_audience = audience.unwrap_or(&self.validator.config().audience);
        if let Some(principal) = self.tokens.get(token, effective_audience, now) {
            return AuthStep::Done(Ok(principal.clone()));
        }
        let jwt = match self.validator.parse(token) {
            Ok(jwt) => jwt,
            Err(e) => return AuthStep::Done(Err(e.into())),
        };
        let result = match self.jwks.lookup(jwt.kid(), now) {
            KeyLookup::Found(key) => self.validator.verify_until(&jwt, key, audience, now),
            KeyLookup::Refresh => return AuthStep::RefreshJwks,
            KeyLookup::Unknown => Err(JwtError::UnknownKid),
            KeyLookup::Ambiguous => Err(JwtError::MissingKid),
        };
        AuthStep::Done(match result {
            Ok((principal, valid_until)) => {
                self.tokens.insert(
                    token,
                    effective_audience,
                    principal.clone(),
                    valid_until,
                    now,
                );
                Ok(principal)
            }
            Err(e) => Err(e.into()),
        })
    }
}
