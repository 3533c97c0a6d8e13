//! Revocation state held in memory on every instance, so verifying a token needs no database
//! round trip. It holds only identities revoked or deleted within the longest token lifetime:
//! an identity absent here has every token live. A revocation is a cut-off instant: tokens
//! issued at or before it are dead, tokens issued after it live.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::vocabulary::IdentityId;
pub use crate::vocabulary::Revocation;

/// How long revocation state must be remembered: 25 hours, the longest token lifetime (24 h,
/// `token::Lifetime::MAX`, which asserts it) plus a margin for clock skew. After that every
/// token it could reject has expired anyway.
pub const RETENTION_MS: i64 = 25 * 60 * 60 * 1000;

/// The cache entry a revocation makes, seen at `seen_ms`.
fn entry(revocation: Revocation, seen_ms: i64) -> (IdentityId, Entry) {
    match revocation {
        Revocation::Revoked { id, before_ms } => (id, Entry::Revoked { before_ms, seen_ms }),
        Revocation::Deleted { id } => (id, Entry::Deleted { seen_ms }),
    }
}

/// What the cache says of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Live,
    Revoked,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `seen_ms` is when this instance last confirmed the entry (it drives retention).
    Revoked {
        before_ms: i64,
        seen_ms: i64,
    },
    Deleted {
        seen_ms: i64,
    },
}

impl Entry {
    fn seen_ms(self) -> i64 {
        match self {
            Entry::Revoked { seen_ms, .. } | Entry::Deleted { seen_ms } => seen_ms,
        }
    }

    /// Combines two observations; the result never goes back in time (a stale resync cannot
    /// undo a newer notification), and deletion is final. A deletion seen again is remembered
    /// from then on, so every instance forgets it at about the same time (25 hours after its
    /// tombstone is purged), whenever it started.
    fn merge(self, newer: Entry) -> Entry {
        match (self, newer) {
            (Entry::Deleted { seen_ms: a }, Entry::Deleted { seen_ms: b }) => {
                Entry::Deleted { seen_ms: a.max(b) }
            }
            (Entry::Deleted { .. }, _) => self,
            (_, Entry::Deleted { .. }) => newer,
            (
                Entry::Revoked { before_ms: a, .. },
                Entry::Revoked {
                    before_ms: b,
                    seen_ms,
                },
            ) => Entry::Revoked {
                before_ms: a.max(b),
                seen_ms,
            },
        }
    }
}

/// Identity revocation state, shared by all requests of an instance.
#[derive(Debug, Default)]
pub struct RevocationCache {
    entries: RwLock<HashMap<IdentityId, Entry>>,
}

impl RevocationCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a token issued for `id` at `issued_at_ms` is still live.
    pub fn state(&self, id: IdentityId, issued_at_ms: i64) -> TokenState {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(&id) {
            None => TokenState::Live,
            Some(Entry::Deleted { .. }) => TokenState::Deleted,
            Some(Entry::Revoked { before_ms, .. }) if issued_at_ms <= *before_ms => {
                TokenState::Revoked
            }
            Some(Entry::Revoked { .. }) => TokenState::Live,
        }
    }

    /// Whether `id` was deleted (within retention).
    pub fn is_deleted(&self, id: IdentityId) -> bool {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        matches!(entries.get(&id), Some(Entry::Deleted { .. }))
    }

    /// Applies one revocation, from this instance or another.
    pub fn apply(&self, revocation: Revocation, now_ms: i64) {
        self.insert(std::iter::once(entry(revocation, now_ms)));
    }

    /// Merges a full snapshot from the store and forgets what is past retention.
    pub fn resync(&self, snapshot: &[Revocation], now_ms: i64) {
        self.insert(snapshot.iter().map(|fact| entry(*fact, now_ms)));
        let horizon = now_ms - RETENTION_MS;
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, entry| entry.seen_ms() > horizon);
    }

    /// How many identities the cache tracks.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, updates: impl Iterator<Item = (IdentityId, Entry)>) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (id, entry) in updates {
            entries
                .entry(id)
                .and_modify(|current| *current = current.merge(entry))
                .or_insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_identities_are_live() {
        assert_eq!(
            RevocationCache::new().state(IdentityId::generate(), 0),
            TokenState::Live
        );
    }

    #[test]
    fn tokens_issued_up_to_the_cut_off_are_revoked() {
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        cache.apply(Revocation::Revoked { id, before_ms: 2 }, 0);
        assert_eq!(cache.state(id, 1), TokenState::Revoked);
        assert_eq!(cache.state(id, 2), TokenState::Revoked);
        assert_eq!(cache.state(id, 3), TokenState::Live);
    }

    #[test]
    fn a_stale_resync_cannot_move_the_cut_off_back() {
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        cache.apply(Revocation::Revoked { id, before_ms: 3 }, 0);
        cache.resync(&[Revocation::Revoked { id, before_ms: 1 }], 1);
        assert_eq!(cache.state(id, 2), TokenState::Revoked);
    }

    #[test]
    fn deletion_is_final() {
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        cache.apply(Revocation::Deleted { id }, 0);
        cache.apply(Revocation::Revoked { id, before_ms: 9 }, 1);
        assert_eq!(cache.state(id, 100), TokenState::Deleted);
    }

    #[test]
    fn a_deletion_is_remembered_while_its_tombstone_is_seen() {
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        cache.apply(Revocation::Deleted { id }, 0);
        // Every resync that still finds the tombstone renews it, as on an instance that
        // started later.
        cache.resync(&[Revocation::Deleted { id }], RETENTION_MS);
        cache.resync(&[], RETENTION_MS + 1);
        assert!(cache.is_deleted(id));
        cache.resync(&[], 2 * RETENTION_MS + 1);
        assert!(!cache.is_deleted(id));
    }

    #[test]
    fn state_past_retention_is_forgotten() {
        let cache = RevocationCache::new();
        let old = IdentityId::generate();
        cache.apply(Revocation::Deleted { id: old }, 0);
        cache.resync(&[], RETENTION_MS + 1);
        assert_eq!(cache.state(old, 0), TokenState::Live);
        assert!(cache.is_empty());
    }
}
