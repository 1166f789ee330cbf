//! Authentication: who is calling.
//!
//! Every method yields a [`Principal`]; authorization (`crate::policy`)
//! decides from it alone. The decision code is sans-IO (time is passed in
//! as Unix seconds); the small file modules are the IO shell for key
//! stores and the embedded issuer.
//!
//! - Bearer JWTs (OAuth 2.1 resource server): [`JwtValidator`], keys from a
//!   [`JwkSet`] held by a [`JwksCache`] that says when to refresh.
//! - API keys: [`ApiKeyStore`] (create/rotate/revoke/verify; JSON file).
//! - Embedded issuer: [`Issuer`] and its files, [`IssuerFiles`].
//! - mTLS: [`MtlsMapper`] maps a verified certificate's names.
//! - Where credentials may come from: [`extract_credential`].
//! - RFC 9728 metadata and `WWW-Authenticate` challenges: [`ResourceMetadata`].
//! - Sessions bound to their principal: [`SessionOwner`].

mod apikey;
mod apikey_file;
mod apikey_record;
mod authenticate;
mod config;
mod extract;
#[cfg(any(fuzzing, test))]
pub mod fuzz;
mod issuer;
mod issuer_file;
mod jwk;
mod jwks_cache;
mod jwks_fetch;
mod jwt;
mod metadata;
mod mtls;
mod mtls_cert;
mod principal;
mod secure_file;
mod session;
mod strict_json;
mod token_cache;

pub use apikey::{
    ApiKeyError, ApiKeyRecord, ApiKeyStore, KEY_PREFIX, KeySpec, KeyStatus, KeyStoreError, NewKey,
};
pub use apikey_file::{KeyFileError, MAX_STORE_BYTES, STORE_FILE, WatchedKeyStore};
pub use authenticate::{AuthError, AuthStep, BearerVerifier};
pub use config::{AuthConfig, AuthConfigError, AuthSettings, JwksSource};
pub use extract::{
    Credential, ExtractError, MAX_AUTHORIZATION_BYTES, extract_credential, extract_single,
};
pub use issuer::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_MAX_TTL_SECS, Issuer, IssuerConfig, IssuerError,
    RetiredKey, TokenRequest, ed25519_kid, generate_signing_key,
};
pub use issuer_file::{IssuerFileError, IssuerFiles};
pub use jwk::{Alg, BadSignature, JwkSet, JwksError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, VerifyingKey};
pub use jwks_cache::{JwksCache, JwksCacheConfig, KeyLookup};
pub use jwks_fetch::{DEFAULT_FETCH_TIMEOUT, FetchError, JwksFetcher, load_roots};
pub use jwt::{
    DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_BYTES, JwtConfig, JwtError, JwtValidator, UnverifiedJwt,
};
pub use metadata::{
    ResourceMetadata, WELL_KNOWN_PREFIX, metadata_path, metadata_url, resource_path_of,
    www_authenticate_insufficient_scope, www_authenticate_invalid_request,
    www_authenticate_unauthorized,
};
pub use mtls::{ClientCertNames, MtlsConfig, MtlsError, MtlsMapper, MtlsRuleConfig};
pub use mtls_cert::CertNames;
pub use principal::{Principal, PrincipalKind};
pub use secure_file::{FileStamp, SecureFileError};
pub use session::{SessionMismatch, SessionOwner};
pub use token_cache::{DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_MAX_AGE_SECS, TokenCache};

#[cfg(test)]
mod tests;
