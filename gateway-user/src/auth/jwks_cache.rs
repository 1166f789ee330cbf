//! A sans-IO JWKS cache: it holds the current key set and tells the IO
//! shell when to fetch a new one.
//!
//! A fetch is due when the set is older than its TTL, and when a token names
//! a `kid` the set does not have (the issuer may have rotated), but the
//! latter at most once per `min_refresh_interval`: an attacker sending
//! random `kid`s cannot make the gateway hammer the issuer. An unknown
//! `kid` shortly after a refresh is simply rejected.

use super::jwk::{JwkSet, JwksError, VerifyingKey};

/// Cache timing, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksCacheConfig {
    /// How long a fetched set is used before a refresh is due.
    pub ttl_secs: u64,
    /// Least time between two refreshes triggered by unknown `kid`s.
    pub min_refresh_interval_secs: u64,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            min_refresh_interval_secs: 30,
        }
    }
}

/// What the cache says about a token's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup<'a> {
    /// Verify with this key.
    Found(&'a VerifyingKey),
    /// Fetch the JWKS, call [`JwksCache::update_from_bytes`] (or
    /// [`JwksCache::refresh_failed`]), then look up again. The cache has
    /// counted this as the refresh attempt.
    Refresh,
    /// Reject the token: no such key, and no refresh is allowed now.
    Unknown,
    /// Reject the token: it has no `kid` and the set has several keys.
    Ambiguous,
}

/// The cache.
#[derive(Debug, Clone)]
pub struct JwksCache {
    config: JwksCacheConfig,
    set: Option<JwkSet>,
    fetched_at: Option<u64>,
    last_attempt: Option<u64>,
}

impl JwksCache {
    /// An empty cache: the first lookup asks for a fetch.
    pub fn new(config: JwksCacheConfig) -> Self {
        Self {
            config,
            set: None,
            fetched_at: None,
            last_attempt: None,
        }
    }

    /// Whether a refresh is due by age (or the cache was never filled).
    /// The IO shell may poll this to refresh in the background.
    pub fn needs_refresh(&self, now: u64) -> bool {
        match self.fetched_at {
            None => self.may_attempt(now),
            Some(at) => now.saturating_sub(at) >= self.config.ttl_secs && self.may_attempt(now),
        }
    }

    fn may_attempt(&self, now: u64) -> bool {
        self.last_attempt
            .is_none_or(|at| now.saturating_sub(at) >= self.config.min_refresh_interval_secs)
    }

    /// Records that a refresh is starting (for background refreshes
    /// started from [`needs_refresh`](Self::needs_refresh)).
    pub fn begin_refresh(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    /// Finds the key for a token's `kid` (or the only key when it has none).
    pub fn lookup(&mut self, kid: Option<&str>, now: u64) -> KeyLookup<'_> {
        let stale = self.needs_refresh(now);
        if stale {
            self.last_attempt = Some(now);
            return KeyLookup::Refresh;
        }
        let Some(set) = &self.set else {
            return KeyLookup::Unknown;
        };
        let found = match kid {
            Some(kid) => set.get(kid),
            None => set.only_key(),
        };
        if let Some(key) = found {
            return KeyLookup::Found(key);
        }
        if kid.is_none() {
            return KeyLookup::Ambiguous;
        }
        if self.may_attempt(now) {
            self.last_attempt = Some(now);
            return KeyLookup::Refresh;
        }
        KeyLookup::Unknown
    }

    /// Replaces the set with a fetched JWKS. On error the old set stays in
    /// use (the failed attempt still counts against the rate limit).
    pub fn update_from_bytes(&mut self, bytes: &[u8], now: u64) -> Result<(), JwksError> {
        self.last_attempt = Some(now);
        let set = JwkSet::parse(bytes)?;
        self.set_keys(set, now);
        Ok(())
    }

    /// Replaces the set with keys obtained another way (the embedded issuer).
    pub fn set_keys(&mut self, set: JwkSet, now: u64) {
        self.set = Some(set);
        self.fetched_at = Some(now);
        self.last_attempt = Some(now);
    }

    /// A fetch failed: keep the old set, and wait for the interval.
    pub fn refresh_failed(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    /// The current set, if any was ever loaded.
    pub fn keys(&self) -> Option<&JwkSet> {
        self.set.as_ref()
    }
}
