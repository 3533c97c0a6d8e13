//! A revocation fact: an identity's tokens cut off at an instant, or the identity deleted.

use super::IdentityId;

/// A committed revocation fact, as the store keeps it and every instance applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Tokens of `id` issued at or before `before_ms` are dead.
    Revoked { id: IdentityId, before_ms: i64 },
    /// `id` is gone, and every token it had with it.
    Deleted { id: IdentityId },
}
