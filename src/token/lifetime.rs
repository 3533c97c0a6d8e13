//! Token lifetime: 60 to 1440 minutes, 1440 when not given (the ACS rule).

use std::time::Duration;

/// A validated token lifetime in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u16);

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
    pub const DEFAULT: Lifetime = Lifetime(Self::MAX_MINUTES);
    /// The longest any token can live: revocation state older than this can be forgotten.
    pub const MAX: Duration = Duration::from_secs(Self::MAX_MINUTES as u64 * 60);

    /// Validates the optional `expiresInMinutes` a client sent.
    pub fn from_minutes(minutes: Option<i64>) -> Result<Self, LifetimeError> {
        match minutes {
            None => Ok(Self::DEFAULT),
            Some(m) if m < i64::from(Self::MIN_MINUTES) => Err(LifetimeError::TooShort(m)),
            Some(m) if m > i64::from(Self::MAX_MINUTES) => Err(LifetimeError::TooLong(m)),
            Some(m) => Ok(Lifetime(m as u16)),
        }
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0) * 60)
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
    fn messages_name_the_bound() {
        let short = Lifetime::from_minutes(Some(0)).unwrap_err().to_string();
        let long = Lifetime::from_minutes(Some(i64::MAX))
            .unwrap_err()
            .to_string();
        assert!(short.contains("at least 60"), "{short}");
        assert!(long.contains("at most 1440"), "{long}");
    }
}
