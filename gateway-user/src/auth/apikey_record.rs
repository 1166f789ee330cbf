//! One API key as stored, and its state at a given time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// One key as stored. The secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRecord {
    /// Public id (hex), part of the printed key.
    pub id: String,
    /// Who the key is for; becomes the principal's subject.
    pub label: String,
    /// Policy roles.
    pub roles: BTreeSet<String>,
    /// Scopes.
    pub scopes: BTreeSet<String>,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Expiry, Unix seconds.
    pub expires: Option<u64>,
    /// Revocation time.
    pub revoked: Option<u64>,
    /// The key this one replaced.
    pub rotated_from: Option<String>,
    /// The key that replaced this one.
    pub replaced_by: Option<String>,
    /// After rotation: this key stops working at this time.
    pub grace_until: Option<u64>,
    /// SHA-256 of the secret bytes, hex.
    pub secret_sha256: String,
}

/// A key's state at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Works.
    Active,
    /// Rotated, still in its grace period.
    Grace,
    /// Rotated, grace over.
    RotatedOut,
    /// Past expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyStatus {
    /// Lower-case name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Grace => "grace",
            Self::RotatedOut => "rotated",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl ApiKeyRecord {
    /// The state at `now`. Revocation wins over everything.
    pub fn status(&self, now: u64) -> KeyStatus {
        if self.revoked.is_some() {
            KeyStatus::Revoked
        } else if self.expires.is_some_and(|e| now >= e) {
            KeyStatus::Expired
        } else if let Some(until) = self.grace_until {
            if now >= until {
                KeyStatus::RotatedOut
            } else {
                KeyStatus::Grace
            }
        } else {
            KeyStatus::Active
        }
    }
}

/// A freshly made key: the record and the printable key (shown once).
#[derive(Debug)]
pub struct NewKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// `pcl_<id>_<secret>`. Print once; never log.
    pub printable: String,
}

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct KeySpec {
    /// Label (the subject).
    pub label: String,
    /// Roles.
    pub roles: BTreeSet<String>,
    /// Scopes.
    pub scopes: BTreeSet<String>,
    /// Lifetime in seconds (`None`: no expiry).
    pub ttl_secs: Option<u64>,
}
