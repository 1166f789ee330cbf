//! Sessions are bound to the principal that created them.
//!
//! A session id is never a credential: every request authenticates on its
//! own, and then the session it names must belong to the principal that just
//! authenticated.

use super::{Principal, PrincipalKind};

/// A session presented by a principal other than its owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session belongs to another principal")]
pub struct SessionMismatch;

/// The owner recorded when a session is created.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionOwner {
    subject: String,
    kind: PrincipalKind,
}

impl SessionOwner {
    /// The owner of a session that `principal` is creating.
    pub fn of(principal: &Principal) -> Self {
        Self {
            subject: principal.subject.clone(),
            kind: principal.kind,
        }
    }

    /// Refuses `principal` unless it is the owner (same subject and same
    /// kind of credential: a JWT `sub` never matches an API key label).
    pub fn check(&self, principal: &Principal) -> Result<(), SessionMismatch> {
        if self.kind == principal.kind && self.subject == principal.subject {
            Ok(())
        } else {
            Err(SessionMismatch)
        }
    }

    /// The owner's subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The owner's credential kind.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(subject: &str, kind: PrincipalKind) -> Principal {
        Principal {
            subject: subject.into(),
            kind,
            scopes: Default::default(),
            roles: ["reader".to_string()].into(),
        }
    }

    #[test]
    fn owner_may_reuse_its_session() {
        let alice = principal("alice", PrincipalKind::Jwt);
        let owner = SessionOwner::of(&alice);
        assert_eq!(owner.check(&alice), Ok(()));
        // Roles or scopes changing between requests does not change ownership.
        let mut alice_later = alice.clone();
        alice_later.roles.clear();
        assert_eq!(owner.check(&alice_later), Ok(()));
    }

    #[test]
    fn session_replayed_by_another_principal_is_refused() {
        let owner = SessionOwner::of(&principal("alice", PrincipalKind::Jwt));
        assert_eq!(
            owner.check(&principal("mallory", PrincipalKind::Jwt)),
            Err(SessionMismatch)
        );
        // Same name, other credential kind: a different principal.
        assert_eq!(
            owner.check(&principal("alice", PrincipalKind::ApiKey)),
            Err(SessionMismatch)
        );
        assert_eq!(
            owner.check(&principal("alice", PrincipalKind::Mtls)),
            Err(SessionMismatch)
        );
    }
}
