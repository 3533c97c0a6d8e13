//! Changes that every instance must learn of within a second (an identity's tokens revoked, an
//! identity deleted, a key regenerated or rotated), and those the services consuming Callsign's
//! tokens hear of as security events (an app user erased, its password changed, an access key
//! regenerated). The writer applies a change to its own caches at once and puts it in the
//! store's outbox in the same transaction; the post-commit dispatcher carries it to the other
//! instances (PostgreSQL `NOTIFY`) and to the event streams (`crate::signals`).

use uuid::Uuid;

use super::{AppUserId, IdentityId, KeySlot, Revocation};

/// A committed change to revocation state or to the key ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Revocation(Revocation),
    /// An access or signing key changed state: reload the key ring.
    KeysChanged,
    /// An access key was regenerated at `at_ms`: every token its slot signed before is dead.
    /// (Written beside a [`Change::KeysChanged`], which is what instances reload on.)
    AccessKeyRegenerated {
        slot: KeySlot,
        at_ms: i64,
    },
    /// An app user was erased at `at_ms` (its identities' deletions are changes of their own).
    AppUserErased {
        user: AppUserId,
        at_ms: i64,
    },
    /// A built-in account's password was set at `at_ms`.
    PasswordChanged {
        user: AppUserId,
        at_ms: i64,
    },
}

impl Change {
    /// The compact notification payload.
    pub fn encode(&self) -> String {
        match self {
            Change::Revocation(Revocation::Revoked { id, before_ms }) => {
                format!("r:{}:{before_ms}", id.uuid().simple())
            }
            Change::Revocation(Revocation::Deleted { id }) => format!("d:{}", id.uuid().simple()),
            Change::KeysChanged => "k".to_owned(),
            Change::AccessKeyRegenerated { slot, at_ms } => format!("g:{slot}:{at_ms}"),
            Change::AppUserErased { user, at_ms } => format!("u:{}:{at_ms}", user.uuid().simple()),
            Change::PasswordChanged { user, at_ms } => {
                format!("p:{}:{at_ms}", user.uuid().simple())
            }
        }
    }

    /// Parses a payload; `None` for anything this version does not know.
    pub fn decode(payload: &str) -> Option<Change> {
        let mut parts = payload.split(':');
        let change = match (parts.next()?, parts.next(), parts.next()) {
            ("r", Some(id), Some(before_ms)) => Change::Revocation(Revocation::Revoked {
                id: IdentityId::from_uuid(Uuid::try_parse(id).ok()?),
                before_ms: before_ms.parse().ok()?,
            }),
            ("d", Some(id), None) => Change::Revocation(Revocation::Deleted {
                id: IdentityId::from_uuid(Uuid::try_parse(id).ok()?),
            }),
            ("k", None, None) => Change::KeysChanged,
            ("g", Some(slot), Some(at_ms)) => Change::AccessKeyRegenerated {
                slot: KeySlot::parse(slot)?,
                at_ms: at_ms.parse().ok()?,
            },
            ("u", Some(user), Some(at_ms)) => Change::AppUserErased {
                user: AppUserId::from_uuid(Uuid::try_parse(user).ok()?),
                at_ms: at_ms.parse().ok()?,
            },
            ("p", Some(user), Some(at_ms)) => Change::PasswordChanged {
                user: AppUserId::from_uuid(Uuid::try_parse(user).ok()?),
                at_ms: at_ms.parse().ok()?,
            },
            _ => return None,
        };
        parts.next().is_none().then_some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = IdentityId::generate();
        for change in [
            Change::Revocation(Revocation::Revoked {
                id,
                before_ms: 1_795_000_000_123,
            }),
            Change::Revocation(Revocation::Deleted { id }),
            Change::KeysChanged,
            Change::AccessKeyRegenerated {
                slot: KeySlot::Secondary,
                at_ms: 1_795_000_000_456,
            },
            Change::AppUserErased {
                user: AppUserId::generate(),
                at_ms: 7,
            },
            Change::PasswordChanged {
                user: AppUserId::generate(),
                at_ms: 8,
            },
        ] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
    }

    #[test]
    fn garbage_is_ignored() {
        for payload in [
            "",
            "x",
            "r:zz:1",
            "r:00000000000000000000000000000000",
            "k:1",
            "d:a:b",
            "g:tertiary:1",
            "u:00000000000000000000000000000000",
            "p:zz:1",
        ] {
            assert_eq!(Change::decode(payload), None, "{payload:?}");
        }
    }
}
