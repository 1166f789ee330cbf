//! A bounded cache of verified tokens, so a client sending the same bearer
//! token on every request pays for one signature check, not one per request.
//!
//! Keyed by SHA-256 of (audience, token): only tokens that verified are
//! stored, so an attacker cannot fill it with junk. An entry lives until the
//! token expires or `max_age_secs` pass, whichever is first; the short
//! maximum age bounds how long a key removed from the JWKS keeps working
//! through the cache (call [`TokenCache::clear`] after such an update to
//! make it immediate).

use std::collections::HashMap;

use ring::digest;

use super::Principal;

/// Default capacity.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Default maximum age of an entry, in seconds.
pub const DEFAULT_TOKEN_CACHE_MAX_AGE_SECS: u64 = 60;

#[derive(Debug, Clone)]
struct Entry {
    principal: Principal,
    valid_until: u64,
}

/// The cache.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: HashMap<[u8; 32], Entry>,
    capacity: usize,
    max_age_secs: u64,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(
            DEFAULT_TOKEN_CACHE_ENTRIES,
            DEFAULT_TOKEN_CACHE_MAX_AGE_SECS,
        )
    }
}

fn key(token: &str, audience: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&(audience.len() as u64).to_be_bytes());
    ctx.update(audience.as_bytes());
    ctx.update(token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl TokenCache {
    /// A cache of at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize, max_age_secs: u64) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
            max_age_secs,
        }
    }

    /// The principal for a token verified earlier for `audience`, if still valid.
    pub fn get(&self, token: &str, audience: &str, now: u64) -> Option<&Principal> {
        self.entries
            .get(&key(token, audience))
            .filter(|e| now < e.valid_until)
            .map(|e| &e.principal)
    }

    /// Remembers a verified token until `valid_until` (capped by the max age).
    pub fn insert(
        &mut self,
        token: &str,
        audience: &str,
        principal: Principal,
        valid_until: u64,
        now: u64,
    ) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, e| now < e.valid_until);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        let valid_until = valid_until.min(now.saturating_add(self.max_age_secs));
        self.entries.insert(
            key(token, audience),
            Entry {
                principal,
                valid_until,
            },
        );
    }

    /// Forgets everything (e.g. after the JWKS dropped a key).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of entries (including expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PrincipalKind;

    fn p(name: &str) -> Principal {
        Principal {
            subject: name.into(),
            kind: PrincipalKind::Jwt,
            scopes: Default::default(),
            roles: Default::default(),
        }
    }

    #[test]
    fn entries_expire_with_the_token_or_the_max_age() {
        let mut c = TokenCache::new(10, 60);
        c.insert("t1", "aud", p("a"), 1_030, 1_000);
        assert_eq!(
            c.get("t1", "aud", 1_029).map(|p| p.subject.as_str()),
            Some("a")
        );
        assert!(c.get("t1", "aud", 1_030).is_none(), "token expired");
        c.insert("t2", "aud", p("b"), 9_999, 1_000);
        assert!(c.get("t2", "aud", 1_059).is_some());
        assert!(c.get("t2", "aud", 1_060).is_none(), "max age");
    }

    #[test]
    fn audience_is_part_of_the_key_and_capacity_is_bounded() {
        let mut c = TokenCache::new(2, 60);
        c.insert("t", "https://a", p("a"), 2_000, 1_000);
        assert!(c.get("t", "https://b", 1_000).is_none());
        c.insert("u", "https://a", p("u"), 2_000, 1_000);
        c.insert("v", "https://a", p("v"), 2_000, 1_000);
        assert!(c.len() <= 2);
        assert!(c.get("v", "https://a", 1_000).is_some());
        c.clear();
        assert!(c.is_empty());
        let mut off = TokenCache::new(0, 60);
        off.insert("t", "a", p("a"), 2_000, 1_000);
        assert!(off.get("t", "a", 1_000).is_none());
    }
}
