//! Changes that every instance must learn of within a second: an identity's tokens revoked, an
//! identity deleted, a key regenerated. The writer applies a change to its own caches at once and
//! the store carries it to the other instances (PostgreSQL `NOTIFY`, sent in the same transaction).

use uuid::Uuid;

/// A committed change to revocation state or to the key ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Tokens of `id` issued at or before `before_ms` are dead.
    Revoked { id: Uuid, before_ms: i64 },
    /// `id` is gone, and every token it had with it.
    Deleted { id: Uuid },
    /// A key was regenerated: reload the key ring.
    KeysRotated,
}

impl Change {
    /// The compact notification payload.
    pub fn encode(&self) -> String {
        match self {
            Change::Revoked { id, before_ms } => format!("r:{}:{before_ms}", id.simple()),
            Change::Deleted { id } => format!("d:{}", id.simple()),
            Change::KeysRotated => "k".to_owned(),
        }
    }

    /// Parses a payload; `None` for anything this version does not know.
    pub fn decode(payload: &str) -> Option<Change> {
        let mut parts = payload.split(':');
        let change = match (parts.next()?, parts.next(), parts.next()) {
            ("r", Some(id), Some(before_ms)) => Change::Revoked {
                id: Uuid::try_parse(id).ok()?,
                before_ms: before_ms.parse().ok()?,
            },
            ("d", Some(id), None) => Change::Deleted {
                id: Uuid::try_parse(id).ok()?,
            },
            ("k", None, None) => Change::KeysRotated,
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
        let id = Uuid::new_v4();
        for change in [
            Change::Revoked {
                id,
                before_ms: 1_795_000_000_123,
            },
            Change::Deleted { id },
            Change::KeysRotated,
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
