//! Changes that every instance must learn of within a second: an identity's tokens revoked, an
//! identity deleted, a key regenerated or rotated. The writer applies a change to its own caches
//! at once and puts it in the store's outbox in the same transaction; the post-commit
//! dispatcher carries it to the other instances (PostgreSQL `NOTIFY`).

use uuid::Uuid;

use super::{IdentityId, Revocation};

/// A committed change to revocation state or to the key ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Revocation(Revocation),
    /// An access or signing key changed state: reload the key ring.
    KeysChanged,
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
        ] {
            assert_eq!(Change::decode(payload), None, "{payload:?}");
        }
    }
}
