//! Who is calling: the output of every authentication method.

use std::{collections::BTreeSet, fmt};

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    /// A bearer JWT access token (external IdP or the embedded issuer).
    Jwt,
    /// A gateway-issued API key.
    ApiKey,
    /// A verified TLS client certificate.
    Mtls,
}

impl PrincipalKind {
    /// A stable lower-case name for logs and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
            Self::Mtls => "mtls",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller. Authorization decides from this alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The JWT `sub`, the API key's label, or the certificate name that matched.
    pub subject: String,
    /// How it authenticated.
    pub kind: PrincipalKind,
    /// OAuth scopes granted (JWT `scope`/`scp`, or configured for the key/cert).
    pub scopes: BTreeSet<String>,
    /// Policy roles.
    pub roles: BTreeSet<String>,
}

impl Principal {
    /// Whether every scope in `required` was granted.
    pub fn has_scopes<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|s| self.scopes.contains(s))
    }
}
