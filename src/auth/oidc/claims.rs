//! The claims every bearer token must carry, and the checks of its times against the injected
//! clock: a pure function of the claims, the time and the configured bounds.

use serde::Deserialize;

use super::{BearerError, LEEWAY_SECS};

#[derive(Deserialize)]
pub(super) struct RequiredClaims {
    pub iss: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl RequiredClaims {
    /// `exp` and `nbf` with [`LEEWAY_SECS`] of leeway, an `iat` no later than `now` (with the
    /// same leeway), and a lifetime of at most `max_lifetime_secs`: from `iat` to `exp`, or, for
    /// a token that does not say when it was issued, from `now` to `exp`. The cap bounds how long
    /// a token leaked from a provider (or minted by one misconfigured for days) stays usable.
    pub fn check_times(&self, now: i64, max_lifetime_secs: i64) -> Result<(), BearerError> {
        if self.exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(BearerError::Expired);
        }
        let too_early = |at: i64| at > now.saturating_add(LEEWAY_SECS);
        if self.nbf.is_some_and(too_early) {
            return Err(BearerError::NotYetValid);
        }
        if self.iat.is_some_and(too_early) {
            return Err(BearerError::IssuedInTheFuture);
        }
        let lifetime = self.exp.saturating_sub(self.iat.unwrap_or(now));
        if lifetime > max_lifetime_secs {
            return Err(BearerError::TooLongLived { max_lifetime_secs });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn times(exp: i64, nbf: Option<i64>, iat: Option<i64>) -> RequiredClaims {
        RequiredClaims {
            iss: "https://idp.test".into(),
            sub: "sub-1".into(),
            exp,
            nbf,
            iat,
            rest: serde_json::Map::new(),
        }
    }

    #[test]
    fn expiry_and_not_before_have_leeway() {
        let check = |claims: RequiredClaims| claims.check_times(NOW, DAY);
        assert_eq!(check(times(NOW - LEEWAY_SECS + 1, None, None)), Ok(()));
        assert_eq!(
            check(times(NOW - LEEWAY_SECS, None, None)),
            Err(BearerError::Expired)
        );
        assert_eq!(
            check(times(NOW + 60, Some(NOW + LEEWAY_SECS), None)),
            Ok(())
        );
        assert_eq!(
            check(times(NOW + 60, Some(NOW + LEEWAY_SECS + 1), None)),
            Err(BearerError::NotYetValid)
        );
    }

    #[test]
    fn a_token_cannot_be_issued_in_the_future() {
        let check = |iat| times(NOW + 600, None, Some(iat)).check_times(NOW, DAY);
        assert_eq!(check(NOW + LEEWAY_SECS), Ok(()));
        assert_eq!(
            check(NOW + LEEWAY_SECS + 1),
            Err(BearerError::IssuedInTheFuture)
        );
    }

    #[test]
    fn lifetime_from_issue_to_expiry_is_capped() {
        let too_long = Err(BearerError::TooLongLived {
            max_lifetime_secs: DAY,
        });
        let issued = NOW - 3_600;
        let check = |exp| times(exp, None, Some(issued)).check_times(NOW, DAY);
        assert_eq!(check(issued + DAY), Ok(()));
        assert_eq!(check(issued + DAY + 1), too_long);
        // Without `iat`, what is left of it from now on is capped.
        let check = |exp| times(exp, None, None).check_times(NOW, DAY);
        assert_eq!(check(NOW + DAY), Ok(()));
        assert_eq!(check(NOW + DAY + 1), too_long);
        // A smaller cap is the configured one.
        assert_eq!(
            times(NOW + 600, None, Some(NOW)).check_times(NOW, 599),
            Err(BearerError::TooLongLived {
                max_lifetime_secs: 599
            })
        );
    }

    #[test]
    fn extreme_times_neither_overflow_nor_pass() {
        assert_eq!(
            times(i64::MAX, None, Some(i64::MIN)).check_times(NOW, DAY),
            Err(BearerError::TooLongLived {
                max_lifetime_secs: DAY
            })
        );
        assert_eq!(
            times(i64::MAX, None, None).check_times(NOW, DAY),
            Err(BearerError::TooLongLived {
                max_lifetime_secs: DAY
            })
        );
        assert_eq!(
            times(i64::MIN, Some(i64::MAX), None).check_times(NOW, DAY),
            Err(BearerError::Expired)
        );
    }
}
