//! The refresh rule: what a presented refresh token is, from what the store holds of it and of
//! its family. The store offers the facts and the steps; this decides.
//!
//! - *Live*: unspent, in a family that has not ended, whose user still holds its identity, and
//!   used within the idle lifetime. Refreshing rotates it.
//! - *Spent*: rotated already, in a family that has not ended: a replay, taken as theft. Every
//!   session of its user ends.
//! - *Invalid*: unknown, or of a family that has ended (signed out, revoked, past its absolute
//!   lifetime), unlinked from its identity, or idle too long. A spent token of a family that
//!   has ended is this too: replaying it harms no one.

use crate::store::{RefreshLimits, Session, StoredToken};

/// What a presented refresh token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Live(Session),
    Spent(Session),
    Invalid,
}

/// Judges `token` (`None`: unknown) at `now_ms`.
pub fn judge(token: Option<&StoredToken>, limits: RefreshLimits, now_ms: i64) -> Verdict {
    let Some(token) = token else {
        return Verdict::Invalid;
    };
    let family_ended = token.family_revoked_at_ms.is_some()
        || token.family_created_at_ms <= now_ms - limits.absolute_ms;
    if family_ended {
        Verdict::Invalid
    } else if token.spent_at_ms.is_some() {
        Verdict::Spent(token.session)
    } else if token.held && token.issued_at_ms > now_ms - limits.idle_ms {
        Verdict::Live(token.session)
    } else {
        Verdict::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{AppUserId, FamilyId, IdentityId};

    const LIMITS: RefreshLimits = RefreshLimits {
        idle_ms: 1_000,
        absolute_ms: 10_000,
    };
    const NOW: i64 = 100_000;

    fn live() -> StoredToken {
        StoredToken {
            session: Session {
                family: FamilyId::generate(),
                user: AppUserId::generate(),
                identity: IdentityId::generate(),
            },
            issued_at_ms: NOW - 10,
            spent_at_ms: None,
            family_created_at_ms: NOW - 5_000,
            family_revoked_at_ms: None,
            held: true,
        }
    }

    #[test]
    fn an_unspent_token_of_a_live_family_is_live() {
        let token = live();
        assert_eq!(
            judge(Some(&token), LIMITS, NOW),
            Verdict::Live(token.session)
        );
    }

    #[test]
    fn unknown_is_invalid() {
        assert_eq!(judge(None, LIMITS, NOW), Verdict::Invalid);
    }

    #[test]
    fn a_spent_token_of_a_live_family_is_a_replay() {
        let token = StoredToken {
            spent_at_ms: Some(NOW - 5),
            ..live()
        };
        assert_eq!(
            judge(Some(&token), LIMITS, NOW),
            Verdict::Spent(token.session)
        );
        // Idle or unlinked does not excuse a replay.
        let unlinked_and_idle = StoredToken {
            held: false,
            issued_at_ms: NOW - LIMITS.idle_ms,
            ..token
        };
        assert_eq!(
            judge(Some(&unlinked_and_idle), LIMITS, NOW),
            Verdict::Spent(token.session)
        );
    }

    #[test]
    fn an_ended_family_makes_every_token_invalid() {
        for spent_at_ms in [None, Some(NOW - 5)] {
            let revoked = StoredToken {
                spent_at_ms,
                family_revoked_at_ms: Some(NOW - 1),
                ..live()
            };
            let too_old = StoredToken {
                spent_at_ms,
                family_created_at_ms: NOW - LIMITS.absolute_ms,
                ..live()
            };
            assert_eq!(judge(Some(&revoked), LIMITS, NOW), Verdict::Invalid);
            assert_eq!(judge(Some(&too_old), LIMITS, NOW), Verdict::Invalid);
        }
        let just_young_enough = StoredToken {
            family_created_at_ms: NOW - LIMITS.absolute_ms + 1,
            ..live()
        };
        assert!(matches!(
            judge(Some(&just_young_enough), LIMITS, NOW),
            Verdict::Live(_)
        ));
    }

    #[test]
    fn an_idle_or_unlinked_token_is_invalid() {
        let idle = StoredToken {
            issued_at_ms: NOW - LIMITS.idle_ms,
            ..live()
        };
        let unlinked = StoredToken {
            held: false,
            ..live()
        };
        let just_in_time = StoredToken {
            issued_at_ms: NOW - LIMITS.idle_ms + 1,
            ..live()
        };
        assert_eq!(judge(Some(&idle), LIMITS, NOW), Verdict::Invalid);
        assert_eq!(judge(Some(&unlinked), LIMITS, NOW), Verdict::Invalid);
        assert!(matches!(
            judge(Some(&just_in_time), LIMITS, NOW),
            Verdict::Live(_)
        ));
    }
}
