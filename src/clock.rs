//! Time, injected. Every rule that depends on time (token expiry, revocation cut-offs and the
//! commit wait, cache and key lifetimes, refresh lifetimes) reads it from a [`Clock`], so tests
//! can fix and advance it instead of sleeping. This is the only module allowed to read the wall
//! clock (`clippy.toml` forbids it elsewhere).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Now, as the store keeps time: unix milliseconds.
    fn now_ms(&self) -> i64 {
        millis(self.now())
    }
}

/// The shared handle services hold.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The wall clock off by a fixed amount: an instance whose clock has drifted, for tests of
/// clock-skew handling.
#[derive(Debug, Clone, Copy)]
pub struct SkewedClock {
    pub offset: time::Duration,
}

impl Clock for SkewedClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock.now() + self.offset
    }
}

/// A clock that stands still until told to move, for tests.
#[derive(Debug)]
pub struct MockClock {
    now_ns: AtomicI64,
}

impl MockClock {
    pub fn new(at: OffsetDateTime) -> Self {
        MockClock {
            now_ns: AtomicI64::new(nanos(at)),
        }
    }

    pub fn advance(&self, by: time::Duration) {
        self.now_ns
            .fetch_add(by.whole_nanoseconds() as i64, Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.now_ns.load(Ordering::SeqCst)))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    at.unix_timestamp_nanos() as i64
}

/// Unix milliseconds of an instant.
pub fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The time a stored millisecond value stands for.
pub fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_mock_clock_moves_only_when_advanced() {
        let clock = MockClock::new(datetime!(2026-11-26 12:00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-26 12:00:00 UTC));
        clock.advance(time::Duration::milliseconds(1500));
        assert_eq!(clock.now(), datetime!(2026-11-26 12:00:01.5 UTC));
        assert_eq!(clock.now_ms(), millis(datetime!(2026-11-26 12:00:01.5 UTC)));
    }

    #[test]
    fn millis_round_trip() {
        let at = datetime!(2026-11-26 12:00:00.123 UTC);
        assert_eq!(from_millis(millis(at)), Some(at));
    }
}
