//! The identity stage: who is calling (bearer JWT or API key, from the
//! `Authorization` header only) and whether they may do what a message
//! asks (policy, default deny). Failures become the RFC 6750 / RFC 9728
//! answers: 401 with a `WWW-Authenticate` challenge pointing at the
//! protected-resource metadata, 400 for malformed credentials, 403 for
//! missing scopes.

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header, request::Parts};
use ring::rand::SystemRandom;
use tokio::sync::Mutex;

use super::{ProxyBody, respond};
use crate::{
    auth::{
        AuthConfig, AuthError, AuthSettings, AuthStep, BearerVerifier, CertNames, ExtractError,
        IssuerConfig, IssuerFiles, JwksCache, JwksFetcher, JwksSource, Principal, PrincipalKind,
        TokenCache, WatchedKeyStore, extract_credential, metadata_url, resource_path_of,
        www_authenticate_insufficient_scope, www_authenticate_invalid_request,
        www_authenticate_unauthorized,
    },
    mcp::{ErrorCode, RpcError},
    policy::{Action, DENIED_BY_POLICY, Decision, Policy, PolicyConfig},
};

/// Why the identity stage could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// `[auth]` is invalid.
    #[error(transparent)]
    Config(#[from] crate::auth::AuthConfigError),
    /// `[policy]` is invalid.
    #[error("policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The embedded issuer's key could not be loaded or created.
    #[error("embedded issuer: {0}")]
    Issuer(#[from] crate::auth::IssuerFileError),
    /// The API key store could not be opened.
    #[error("API keys: {0}")]
    Keys(#[from] crate::auth::KeyFileError),
    /// The JWKS source could not be set up.
    #[error("JWKS: {0}")]
    Fetch(#[from] crate::auth::FetchError),
    /// An HTTPS JWKS URL needs the CA that signs its certificate.
    #[error("auth.jwks_url needs auth.jwks_ca_file (PEM roots to trust for it)")]
    NoJwksCa,
    /// The embedded issuer and API keys need a state directory.
    #[error("auth needs gateway.state_dir (the embedded issuer's key and the API keys live there)")]
    NoStateDir,
}

struct AuthState {
    jwks: JwksCache,
    tokens: TokenCache,
    keys: WatchedKeyStore,
    keys_checked: u64,
}

/// Authentication and authorization for the proxy.
pub struct Identity {
    settings: AuthSettings,
    state: Mutex<AuthState>,
    fetcher: JwksFetcher,
    policy: Arc<Policy>,
    /// `https://host:port` of the resource, for metadata URLs.
    origin: String,
    /// Development mode: unauthenticated callers get these roles.
    anonymous_roles: Option<Vec<String>>,
    /// Per-route audiences (RFC 8707): tokens for `/mcp/<name>` must carry
    /// this `aud` instead of `auth.resource`.
    route_audiences: std::collections::HashMap<String, String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("origin", &self.origin)
            .field("anonymous", &self.anonymous_roles.is_some())
            .finish()
    }
}

fn with_challenge(
    mut response: Response<ProxyBody>,
    challenge: String,
) -> Box<Response<ProxyBody>> {
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    Box::new(response)
}

/// The status and challenge refusing `error`: 400 `invalid_request` for a
/// malformed request (token in the query, two headers, a broken Bearer
/// value), else 401, with `invalid_token` when a credential was presented
/// (another scheme such as Basic included).
fn refusal(error: &AuthError, meta: &str, scopes: &[&str]) -> (u16, String) {
    if error.is_invalid_request() {
        (400, www_authenticate_invalid_request(meta))
    } else {
        let presented = error.token_presented();
        (401, www_authenticate_unauthorized(meta, scopes, presented))
    }
}

impl Identity {
    /// Builds the stage. The embedded issuer (no `jwks_file`/`jwks_url`)
    /// keeps its key in `state_dir`, created on first start.
    pub fn new(
        auth: &AuthConfig,
        policy: &PolicyConfig,
        state_dir: Option<&Path>,
        anonymous_roles: Option<Vec<String>>,
        route_audiences: std::collections::HashMap<String, String>,
    ) -> Result<Self, IdentityError> {
        let settings = auth.build()?;
        let policy = Arc::new(Policy::from_config(policy)?);
        let state_dir = state_dir.ok_or(IdentityError::NoStateDir)?;
        let fetcher = match &settings.jwks_source {
            JwksSource::Embedded => {
                let files = IssuerFiles::new(state_dir);
                let config = IssuerConfig {
                    issuer: auth.issuer.clone(),
                    default_audience: auth.resource.clone(),
                    ..IssuerConfig::default()
                };
                files.load_or_create(config.clone(), &SystemRandom::new())?;
                JwksFetcher::embedded(files, config)
            }
            JwksSource::File(path) => JwksFetcher::file(path.clone()),
            JwksSource::Url(url) => {
                let ca = auth
                    .jwks_ca_file
                    .as_deref()
                    .ok_or(IdentityError::NoJwksCa)?;
                JwksFetcher::https(url, crate::auth::load_roots(ca)?)?
            }
        };
        let keys = WatchedKeyStore::open(&state_dir.join(crate::auth::STORE_FILE))?;
        let origin = auth
            .resource
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        Ok(Self {
            state: Mutex::new(AuthState {
                jwks: JwksCache::new(settings.jwks_cache),
                tokens: TokenCache::new(
                    crate::auth::DEFAULT_TOKEN_CACHE_ENTRIES,
                    crate::auth::DEFAULT_TOKEN_CACHE_MAX_AGE_SECS,
                ),
                keys,
                keys_checked: 0,
            }),
            settings,
            fetcher,
            policy,
            origin,
            anonymous_roles,
            route_audiences,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    fn metadata_url_for(&self, path: &str) -> String {
        metadata_url(&self.origin, path)
    }

    /// Serves `/.well-known/oauth-protected-resource[/<resource path>]`.
    pub fn metadata_response(&self, path: &str) -> Option<Response<ProxyBody>> {
        let resource_path = resource_path_of(path)?;
        let mut document = self.settings.metadata.clone();
        if resource_path != "/" {
            let route = resource_path.strip_prefix("/mcp/");
            document.resource = match route.and_then(|r| self.route_audiences.get(r)) {
                Some(audience) => audience.clone(),
                None => format!("{}{}", self.origin, resource_path),
            };
        }
        Some(respond::json(
            StatusCode::OK,
            Bytes::from(document.to_json()),
        ))
    }

    /// Authenticates a request, or answers it with the right challenge.
    pub async fn authenticate(
        &self,
        parts: &Parts,
        client_cert: Option<&CertNames>,
        route: &str,
    ) -> Result<Arc<Principal>, Box<Response<ProxyBody>>> {
        let audience = self.route_audiences.get(route).map(String::as_str);
        let path = parts.uri.path();
        let meta = self.metadata_url_for(path);
        let scopes: Vec<&str> = self
            .settings
            .metadata
            .scopes_supported
            .iter()
            .map(String::as_str)
            .collect();
        let values: Vec<&[u8]> = parts
            .headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        let credential = match extract_credential(&values, parts.uri.query()) {
            Ok(credential) => credential,
            // A verified client certificate authenticates when no bearer
            // credential is presented; it must match an mTLS rule.
            Err(ExtractError::Missing) if client_cert.is_some() => {
                let names = client_cert
                    .ok_or_else(|| Box::new(respond::empty(StatusCode::UNAUTHORIZED)))?;
                return match self.settings.mtls.map_names(names) {
                    Ok(principal) => Ok(Arc::new(principal)),
                    Err(error) => {
                        tracing::warn!(authn.error = %error, "client certificate refused");
                        let response = respond::rpc_error(&RpcError::new(
                            ErrorCode::Denied,
                            401,
                            "invalid credential",
                        ));
                        Err(with_challenge(
                            response,
                            www_authenticate_unauthorized(&meta, &scopes, true),
                        ))
                    }
                };
            }
            Err(ExtractError::Missing) if self.anonymous_roles.is_some() => {
                return Ok(Arc::new(Principal {
                    subject: "anonymous".into(),
                    kind: PrincipalKind::Jwt,
                    scopes: Default::default(),
                    roles: self.anonymous_roles.iter().flatten().cloned().collect(),
                }));
            }
            Err(ExtractError::Missing) => {
                let response = respond::rpc_error(&RpcError::new(
                    ErrorCode::Denied,
                    401,
                    "authentication required",
                ));
                return Err(with_challenge(
                    response,
                    www_authenticate_unauthorized(&meta, &scopes, false),
                ));
            }
            Err(error) => {
                tracing::warn!(authn.error = %error, "malformed credential");
                let (status, challenge) = refusal(&AuthError::from(error.clone()), &meta, &scopes);
                let response = respond::rpc_error(&RpcError::new(
                    ErrorCode::Denied,
                    status,
                    error.to_string(),
                ));
                return Err(with_challenge(response, challenge));
            }
        };
        let now = super::now_secs();
        let mut state = self.state.lock().await;
        if state.keys_checked != now {
            state.keys_checked = now;
            if let Err(error) = state.keys.reload_if_changed() {
                tracing::error!(%error, "API key store unreadable: no API key authenticates until it is fixed");
            }
        }
        let mut refreshed = false;
        let result: Result<Principal, AuthError> = loop {
            let AuthState {
                jwks, tokens, keys, ..
            } = &mut *state;
            let mut verifier = BearerVerifier {
                validator: &self.settings.validator,
                jwks,
                tokens,
                api_keys: keys.store(),
            };
            match verifier.authenticate(credential, audience, now) {
                AuthStep::Done(result) => break result,
                AuthStep::RefreshJwks if refreshed => {
                    break Err(AuthError::Jwt(crate::auth::JwtError::UnknownKid));
                }
                AuthStep::RefreshJwks => {
                    refreshed = true;
                    state.jwks.begin_refresh(now);
                    match tokio::time::timeout(Duration::from_secs(10), self.fetcher.fetch(now))
                        .await
                    {
                        Ok(Ok(bytes)) => {
                            if let Err(error) = state.jwks.update_from_bytes(&bytes, now) {
                                tracing::warn!(%error, "JWKS refresh returned an unusable document");
                                state.jwks.refresh_failed(now);
                            }
                        }
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "JWKS refresh failed");
                            state.jwks.refresh_failed(now);
                        }
                        Err(_) => {
                            tracing::warn!("JWKS refresh timed out");
                            state.jwks.refresh_failed(now);
                        }
                    }
                }
            }
        };
        drop(state);
        match result {
            Ok(principal) => Ok(Arc::new(principal)),
            Err(error) => {
                tracing::warn!(authn.error = error.code(), "authentication failed");
                let (status, challenge) = refusal(&error, &meta, &scopes);
                let response = respond::rpc_error(&RpcError::new(
                    ErrorCode::Denied,
                    status,
                    "invalid credential",
                ));
                Err(with_challenge(response, challenge))
            }
        }
    }

    /// Whether `principal` may send `message`-level `action` to `upstream`.
    /// Denials are JSON-RPC errors saying "denied by policy"; missing scopes
    /// are a 403 challenge.
    pub fn authorize(
        &self,
        principal: &Principal,
        upstream: &str,
        path: &str,
        action: Action<'_>,
        id: Option<crate::mcp::RequestId>,
    ) -> Result<(), Box<Response<ProxyBody>>> {
        match self.policy.authorize(principal, upstream, action) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => {
                tracing::warn!(
                    principal = %principal.subject,
                    mcp.upstream = upstream,
                    authz.decision = "deny",
                    authz.reason = reason.as_str(),
                    "denied by policy"
                );
                Err(Box::new(respond::rpc_error(
                    &RpcError::new(ErrorCode::Denied, 200, DENIED_BY_POLICY).with_id(id),
                )))
            }
            Decision::InsufficientScope(required) => {
                let required: Vec<&str> = required.iter().map(String::as_str).collect();
                let response = respond::rpc_error(
                    &RpcError::new(ErrorCode::Denied, 403, "insufficient scope").with_id(id),
                );
                Err(with_challenge(
                    response,
                    www_authenticate_insufficient_scope(&self.metadata_url_for(path), &required),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_400_only_for_malformed_requests() {
        let meta = "https://gw.example.test/.well-known/oauth-protected-resource/mcp/a";
        let extract = |e| refusal(&AuthError::Extract(e), meta, &[]);
        let (status, challenge) = extract(ExtractError::UnsupportedScheme);
        assert_eq!(status, 401, "Basic and other schemes are unauthenticated");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let (status, challenge) = extract(ExtractError::Missing);
        assert_eq!(status, 401);
        assert!(!challenge.contains("error="), "{challenge}");
        for malformed in [
            ExtractError::Malformed,
            ExtractError::Duplicate,
            ExtractError::TokenInQuery,
        ] {
            let (status, challenge) = extract(malformed);
            assert_eq!(status, 400);
            assert!(
                challenge.contains("error=\"invalid_request\""),
                "{challenge}"
            );
        }
    }
}
