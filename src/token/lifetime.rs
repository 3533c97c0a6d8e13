//! Token lifetime: 60 to 1440 minutes, 1440 when not given (the ACS rule); or, for a token
//! exchanged for another, what is left of that one's, up to the same 24 hours.

use std::time::Duration;

/// A validated token lifetime, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error(
        "expiresInMinutes must be at least {min} (the minimum token lifetime); got {0}",
        min = Lifetime::MIN_MINUTES
    )]
    TooShort(i64),
    #[error(
        "expiresInMinutes must be at most {max} (24 hours, the maximum token lifetime); got {0}",
        max = Lifetime::MAX_MINUTES
    )]
    TooLong(i64),
}

// Revocation state (and a retained signing key) is kept as long as the longest token lives,
// plus an hour for clock skew.
const _: () =
    assert!(crate::revocation::RETENTION_MS == Lifetime::MAX.as_millis() as i64 + 60 * 60 * 1000);

impl Lifetime {
    pub const MIN_MINUTES: u16 = 60;
    pub const MAX_MINUTES: u16 = 1440;
    pub const DEFAULT: Lifetime = Lifetime(Self::MAX_MINUTES as u32 * 60);
    /// The longest any token can live: revocation state older than this can be forgotten.
    pub const MAX: Duration = Duration::from_secs(Self::MAX_MINUTES as u64 * 60);

    /// Validates the optional `expiresInMinutes` a client sent.
    pub fn from_minutes(minutes: Option<i64>) -> Result<Self, LifetimeError> {
        match minutes {
            None => Ok(Self::DEFAULT),
            Some(m) if m < i64::from(Self::MIN_MINUTES) => Err(LifetimeError::TooShort(m)),
            Some(m) if m > i64::from(Self::MAX_MINUTES) => Err(LifetimeError::TooLong(m)),
            Some(m) => Ok(Lifetime(m as u32 * 60)),
        }
    }

    /// At most `remaining` (whole seconds) and at most [`Lifetime::MAX`]: for a token that may
    /// not outlive the one it was exchanged for. `None` when less than a second remains.
    pub fn at_most(remaining: Duration) -> Option<Self> {
        let seconds = remaining.min(Self::MAX).as_secs();
        (seconds > 0).then_some(Lifetime(seconds as u32))
    }

    pub fn seconds(self) -> u32 {
        self.0
    }

    /// Whole minutes, rounded down.
    pub fn minutes(self) -> u32 {
        self.0 / 60
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_one_day() {
        assert_eq!(Lifetime::from_minutes(None).unwrap().minutes(), 1440);
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(Lifetime::from_minutes(Some(60)).unwrap().minutes(), 60);
        assert_eq!(Lifetime::from_minutes(Some(1440)).unwrap().minutes(), 1440);
        assert_eq!(
            Lifetime::from_minutes(Some(59)),
            Err(LifetimeError::TooShort(59))
        );
        assert_eq!(
            Lifetime::from_minutes(Some(1441)),
            Err(LifetimeError::TooLong(1441))
        );
    }

    #[test]
    fn an_exchanged_token_lives_what_is_left_up_to_a_day() {
        let left = |secs| Lifetime::at_most(Duration::from_secs(secs)).map(Lifetime::seconds);
        assert_eq!(left(0), None);
        assert_eq!(left(1), Some(1));
        assert_eq!(left(45 * 60 + 7), Some(45 * 60 + 7));
        assert_eq!(left(86_400), Some(86_400));
        assert_eq!(left(10 * 86_400), Some(86_400));
        assert_eq!(
            Lifetime::at_most(Duration::from_millis(1_999)).map(Lifetime::seconds),
            Some(1)
        );
    }

    #[test]
    fn messages_name_the_bound() {
        let short = Lifetime::from_minutes(Some(0)).unwrap_err().to_string();
        let long = Lifetime::from_minutes(Some(i64::MAX))
            .unwrap_err()
            .to_string();
        assert!(short.contains("at least 60"), "{short}");
        assert!(long.contains("at most 1440"), "{long}");
    }
}
