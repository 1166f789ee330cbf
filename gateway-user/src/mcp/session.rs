//! The gateway's own sessions, mapped to the upstream's. The client only
//! ever sees the gateway's id; the upstream's never leaves the gateway.

use std::collections::HashMap;

use serde::Deserialize;

use super::version::ProtocolVersion;

/// A gateway session id: 32 random bytes, hex encoded (visible ASCII).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// Builds an id from 32 bytes of a cryptographically secure generator.
    pub fn from_random(bytes: [u8; 32]) -> Self {
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        SessionId(s)
    }

    /// The id as sent in `Mcp-Session-Id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What the gateway keeps about one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The upstream route it belongs to.
    pub upstream: String,
    /// The upstream's session id, if it issued one.
    pub upstream_session: Option<String>,
    /// The revision the upstream negotiated.
    pub version: ProtocolVersion,
    /// Who opened it (principal key); another principal may not use it.
    pub owner: String,
    /// When it was last used, in the caller's clock (seconds).
    pub last_seen: u64,
}

/// Bounds on the session table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionLimits {
    /// Most live sessions.
    pub max_sessions: usize,
    /// Seconds of idleness after which a session ends.
    pub idle_timeout_secs: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            idle_timeout_secs: 3_600,
        }
    }
}

/// Why a session lookup failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No such session (never existed, ended, or expired): HTTP 404.
    #[error("unknown or ended session")]
    Unknown,
    /// The session belongs to another route: also answered as unknown.
    #[error("unknown or ended session")]
    OtherUpstream,
    /// Another principal opened it.
    #[error("session belongs to another principal")]
    OtherOwner,
    /// The table is full of live sessions.
    #[error("too many sessions")]
    Full,
}

/// All live sessions. Sans-IO: the caller passes `now` (seconds).
#[derive(Debug, Default)]
pub struct SessionTable {
    limits: SessionLimits,
    sessions: HashMap<SessionId, Session>,
}

impl SessionTable {
    /// An empty table.
    pub fn new(limits: SessionLimits) -> Self {
        Self {
            limits,
            sessions: HashMap::new(),
        }
    }

    /// Adds a session; when full, expired ones are dropped first, and live
    /// ones are never evicted.
    pub fn insert(&mut self, id: SessionId, session: Session) -> Result<(), SessionError> {
        if self.sessions.len() >= self.limits.max_sessions {
            self.sweep(session.last_seen);
            if self.sessions.len() >= self.limits.max_sessions {
                return Err(SessionError::Full);
            }
        }
        self.sessions.insert(id, session);
        Ok(())
    }

    /// Looks up `id` for `owner` on `upstream`, refreshing its idle timer.
    pub fn touch(
        &mut self,
        id: &str,
        upstream: &str,
        owner: &str,
        now: u64,
    ) -> Result<Session, SessionError> {
        let key = SessionId(id.to_owned());
        let idle = self.limits.idle_timeout_secs;
        let Some(session) = self.sessions.get_mut(&key) else {
            return Err(SessionError::Unknown);
        };
        if now.saturating_sub(session.last_seen) > idle {
            self.sessions.remove(&key);
            return Err(SessionError::Unknown);
        }
        if session.upstream != upstream {
            return Err(SessionError::OtherUpstream);
        }
        if session.owner != owner {
            return Err(SessionError::OtherOwner);
        }
        session.last_seen = session.last_seen.max(now);
        Ok(session.clone())
    }

    /// Ends a session, returning it.
    pub fn remove(&mut self, id: &str) -> Option<Session> {
        self.sessions.remove(&SessionId(id.to_owned()))
    }

    /// Drops sessions idle for longer than the timeout.
    pub fn sweep(&mut self, now: u64) {
        let idle = self.limits.idle_timeout_secs;
        self.sessions
            .retain(|_, s| now.saturating_sub(s.last_seen) <= idle);
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(owner: &str, now: u64) -> Session {
        Session {
            upstream: "demo".into(),
            upstream_session: Some("up-1".into()),
            version: ProtocolVersion::V2025_11_25,
            owner: owner.into(),
            last_seen: now,
        }
    }

    #[test]
    fn ids_are_visible_ascii_hex() {
        let id = SessionId::from_random([0xab; 32]);
        assert_eq!(id.as_str().len(), 64);
        assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn lookup_binds_owner_and_upstream_and_expires() {
        let limits = SessionLimits {
            max_sessions: 2,
            idle_timeout_secs: 10,
        };
        let mut table = SessionTable::new(limits);
        let id = SessionId::from_random([1; 32]);
        table.insert(id.clone(), session("alice", 100)).unwrap();
        assert_eq!(
            table
                .touch(id.as_str(), "demo", "alice", 105)
                .unwrap()
                .upstream_session,
            Some("up-1".into())
        );
        assert_eq!(
            table.touch(id.as_str(), "demo", "mallory", 105),
            Err(SessionError::OtherOwner)
        );
        assert_eq!(
            table.touch(id.as_str(), "other", "alice", 105),
            Err(SessionError::OtherUpstream)
        );
        assert_eq!(
            table.touch("nope", "demo", "alice", 105),
            Err(SessionError::Unknown)
        );
        // Idle past the timeout (measured from the last touch at 105).
        assert_eq!(
            table.touch(id.as_str(), "demo", "alice", 116),
            Err(SessionError::Unknown)
        );
        assert!(table.is_empty());
    }

    #[test]
    fn full_table_refuses_rather_than_evicting_live_sessions() {
        let limits = SessionLimits {
            max_sessions: 1,
            idle_timeout_secs: 10,
        };
        let mut table = SessionTable::new(limits);
        table
            .insert(SessionId::from_random([1; 32]), session("a", 0))
            .unwrap();
        assert_eq!(
            table.insert(SessionId::from_random([2; 32]), session("b", 5)),
            Err(SessionError::Full)
        );
        // Once the first has expired, there is room.
        table
            .insert(SessionId::from_random([2; 32]), session("b", 50))
            .unwrap();
        assert_eq!(table.len(), 1);
        assert!(
            table
                .remove(SessionId::from_random([2; 32]).as_str())
                .is_some()
        );
    }
}
