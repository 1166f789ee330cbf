//! API keys for machine clients: 256-bit random secrets, shown once, kept
//! only as SHA-256 digests. Sans-IO: the store is a value; `apikey_file`
//! reads and writes it.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{digest, rand::SecureRandom};
use serde::{Deserialize, Serialize};

pub use super::apikey_record::{ApiKeyRecord, KeySpec, KeyStatus, NewKey};
use super::{Principal, PrincipalKind};

/// Prefix of every printed key.
pub const KEY_PREFIX: &str = "pcl_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
const MAX_LABEL: usize = 128;
const MAX_KEYS: usize = 10_000;

/// A presented key that does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// Not `pcl_<id>_<secret>`.
    #[error("malformed API key")]
    Malformed,
    /// No key with this id (or the secret does not match).
    #[error("unknown API key")]
    Unknown,
    /// Revoked.
    #[error("API key has been revoked")]
    Revoked,
    /// Past its expiry.
    #[error("API key has expired")]
    Expired,
    /// Replaced by rotation and past its grace period.
    #[error("API key was rotated and its grace period is over")]
    RotatedOut,
}

/// A management operation that cannot be done, or a store that is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// The store document is not valid.
    #[error("API key store is invalid: {0}")]
    Invalid(String),
    /// No key with this id.
    #[error("no API key with id {0}")]
    NotFound(String),
    /// Already revoked.
    #[error("API key {0} is already revoked")]
    AlreadyRevoked(String),
    /// Already rotated.
    #[error("API key {0} was already rotated (to {1})")]
    AlreadyRotated(String, String),
    /// Another live key has this label.
    #[error("label {0:?} is already used by live key {1}")]
    LabelInUse(String, String),
    /// A label, role or scope is empty, too long or has odd characters.
    #[error("bad {0}: {1:?}")]
    BadName(&'static str, String),
    /// The system RNG failed.
    #[error("the system random number generator failed")]
    Rng,
    /// Too many keys in one store.
    #[error("the store holds its maximum of {MAX_KEYS} keys")]
    Full,
}

/// All keys. Serialized as the store file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyStore {
    version: u32,
    keys: Vec<ApiKeyRecord>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time equality for equal-length byte strings: the time depends
/// only on the length, never on where they differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn check_name(what: &'static str, s: &str) -> Result<(), KeyStoreError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !s.starts_with(' ')
        && !s.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err(KeyStoreError::BadName(what, s.to_owned()))
    }
}

fn hex_id_ok(id: &str) -> bool {
    id.len() == ID_BYTES * 2
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits `pcl_<id>_<secret>` into the id and the decoded secret.
fn parse_presented(presented: &str) -> Option<(&str, Vec<u8>)> {
    let rest = presented.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if !hex_id_ok(id) {
        return None;
    }
    let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
    (secret.len() == SECRET_BYTES).then_some((id, secret))
}

impl ApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            version: 1,
            keys: Vec::new(),
        }
    }

    /// Parses and validates a store document.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyStoreError> {
        let store: Self =
            serde_json::from_slice(bytes).map_err(|e| KeyStoreError::Invalid(e.to_string()))?;
        if store.version != 1 {
            return Err(KeyStoreError::Invalid(format!(
                "unknown version {}",
                store.version
            )));
        }
        if store.keys.len() > MAX_KEYS {
            return Err(KeyStoreError::Full);
        }
        let mut ids = std::collections::HashSet::new();
        for key in &store.keys {
            if !hex_id_ok(&key.id) || !ids.insert(key.id.as_str()) {
                return Err(KeyStoreError::Invalid(format!(
                    "bad or duplicate id {:?}",
                    key.id
                )));
            }
            if key.secret_sha256.len() != 64
                || !key.secret_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(KeyStoreError::Invalid(format!(
                    "key {}: bad secret_sha256",
                    key.id
                )));
            }
            check_name("label", &key.label)?;
            for name in key.roles.iter().chain(&key.scopes) {
                check_name("role or scope", name)?;
            }
        }
        Ok(store)
    }

    /// The store document (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// All records, oldest first.
    pub fn keys(&self) -> &[ApiKeyRecord] {
        &self.keys
    }

    fn find_mut(&mut self, id: &str) -> Result<&mut ApiKeyRecord, KeyStoreError> {
        self.keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or_else(|| KeyStoreError::NotFound(id.to_owned()))
    }

    fn generate(
        &self,
        rng: &dyn SecureRandom,
    ) -> Result<(String, [u8; SECRET_BYTES]), KeyStoreError> {
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        loop {
            rng.fill(&mut id).map_err(|_| KeyStoreError::Rng)?;
            let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
            if !self.keys.iter().any(|k| k.id == id) {
                rng.fill(&mut secret).map_err(|_| KeyStoreError::Rng)?;
                return Ok((id, secret));
            }
        }
    }

    /// Creates a key. The label must not be in use by a live key.
    pub fn create(
        &mut self,
        rng: &dyn SecureRandom,
        spec: KeySpec,
        now: u64,
    ) -> Result<NewKey, KeyStoreError> {
        check_name("label", &spec.label)?;
        for name in spec.roles.iter().chain(&spec.scopes) {
            check_name("role or scope", name)?;
        }
        if let Some(live) = self.keys.iter().find(|k| {
            k.label == spec.label && matches!(k.status(now), KeyStatus::Active | KeyStatus::Grace)
        }) {
            return Err(KeyStoreError::LabelInUse(spec.label, live.id.clone()));
        }
        self.insert(rng, spec, None, now)
    }

    fn insert(
        &mut self,
        rng: &dyn SecureRandom,
        spec: KeySpec,
        rotated_from: Option<String>,
        now: u64,
    ) -> Result<NewKey, KeyStoreError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyStoreError::Full);
        }
        let (id, secret) = self.generate(rng)?;
        let record = ApiKeyRecord {
            id: id.clone(),
            label: spec.label,
            roles: spec.roles,
            scopes: spec.scopes,
            created: now,
            expires: spec.ttl_secs.map(|t| now.saturating_add(t)),
            revoked: None,
            rotated_from,
            replaced_by: None,
            grace_until: None,
            secret_sha256: sha256_hex(&secret),
        };
        let printable = format!("{KEY_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
        self.keys.push(record.clone());
        Ok(NewKey { record, printable })
    }

    /// Replaces key `id` with a new one (same label, roles, scopes and
    /// lifetime); the old key keeps working for `grace_secs`, then stops.
    pub fn rotate(
        &mut self,
        rng: &dyn SecureRandom,
        id: &str,
        grace_secs: u64,
        now: u64,
    ) -> Result<NewKey, KeyStoreError> {
        let old = self.find_mut(id)?.clone();
        if old.revoked.is_some() {
            return Err(KeyStoreError::AlreadyRevoked(old.id));
        }
        if let Some(next) = old.replaced_by {
            return Err(KeyStoreError::AlreadyRotated(old.id, next));
        }
        let spec = KeySpec {
            label: old.label,
            roles: old.roles,
            scopes: old.scopes,
            ttl_secs: old.expires.map(|e| e.saturating_sub(old.created)),
        };
        let new = self.insert(rng, spec, Some(old.id.clone()), now)?;
        let old = self.find_mut(id)?;
        old.replaced_by = Some(new.record.id.clone());
        let until = now.saturating_add(grace_secs);
        old.grace_until = Some(old.expires.map_or(until, |e| e.min(until)));
        Ok(new)
    }

    /// Revokes key `id` at once.
    pub fn revoke(&mut self, id: &str, now: u64) -> Result<(), KeyStoreError> {
        let key = self.find_mut(id)?;
        if key.revoked.is_some() {
            return Err(KeyStoreError::AlreadyRevoked(key.id.clone()));
        }
        key.revoked = Some(now);
        Ok(())
    }

    /// Authenticates a presented key.
    pub fn verify(&self, presented: &str, now: u64) -> Result<Principal, ApiKeyError> {
        let (id, secret) = parse_presented(presented).ok_or(ApiKeyError::Malformed)?;
        let digest = sha256_hex(&secret);
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(ApiKeyError::Unknown)?;
        if !ct_eq(
            digest.as_bytes(),
            key.secret_sha256.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(ApiKeyError::Unknown);
        }
        match key.status(now) {
            KeyStatus::Active | KeyStatus::Grace => Ok(Principal {
                subject: key.label.clone(),
                kind: PrincipalKind::ApiKey,
                scopes: key.scopes.clone(),
                roles: key.roles.clone(),
            }),
            KeyStatus::Revoked => Err(ApiKeyError::Revoked),
            KeyStatus::Expired => Err(ApiKeyError::Expired),
            KeyStatus::RotatedOut => Err(ApiKeyError::RotatedOut),
        }
    }
}
