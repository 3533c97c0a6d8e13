//! Throttling of failed sign-ins, per key (an account name, a client address). Temporary and
//! incremental: the first failures are free; from the `free_failures`-th on, each failure locks
//! the key for twice as long as the last (2 s, 4 s, 8 s, … up to 15 min), and a key quiet for
//! 15 minutes starts afresh. So guessing is slowed to a crawl, and nobody can lock a victim out
//! for good.

use std::time::Duration;

use moka::sync::Cache;

use crate::clock::SharedClock;

/// A key quiet this long is forgotten; also the longest lock.
const FORGET_AFTER_MS: i64 = 15 * 60 * 1000;
const MAX_KEYS: u64 = 1_000_000;
/// The first lock.
const BASE_LOCK_MS: i64 = 2000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure_ms: i64,
    locked_until_ms: i64,
}

pub struct Throttle {
    free_failures: u32,
    records: Cache<String, Record>,
    clock: SharedClock,
}

impl Throttle {
    /// Allows `free_failures` failures before locking.
    pub fn new(free_failures: u32, clock: SharedClock) -> Self {
        Throttle {
            free_failures,
            records: Cache::builder().max_capacity(MAX_KEYS).build(),
            clock,
        }
    }

    fn current(&self, key: &str, now_ms: i64) -> Option<Record> {
        self.records
            .get(key)
            .filter(|record| now_ms - record.last_failure_ms < FORGET_AFTER_MS)
    }

    /// `Err(retry_after)` while `key` is locked.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now_ms = self.clock.now_ms();
        match self.current(key, now_ms) {
            Some(record) if record.locked_until_ms > now_ms => Err(Duration::from_millis(
                (record.locked_until_ms - now_ms) as u64,
            )),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, key: &str) {
        let now_ms = self.clock.now_ms();
        let failures = self.current(key, now_ms).map_or(0, |r| r.failures) + 1;
        let locked_until_ms = match failures.checked_sub(self.free_failures) {
            Some(over) => {
                let lock_ms = BASE_LOCK_MS
                    .saturating_mul(1 << over.min(20))
                    .min(FORGET_AFTER_MS);
                now_ms + lock_ms
            }
            None => now_ms,
        };
        self.records.insert(
            key.to_owned(),
            Record {
                failures,
                last_failure_ms: now_ms,
                locked_until_ms,
            },
        );
    }

    pub fn clear(&self, key: &str) {
        self.records.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::MockClock;
    use crate::testing::START;

    fn throttle() -> (Throttle, Arc<MockClock>) {
        let clock = Arc::new(MockClock::new(START));
        (Throttle::new(3, clock.clone()), clock)
    }

    #[test]
    fn locks_from_the_last_free_failure_on_for_doubling_times() {
        let (throttle, clock) = throttle();
        for _ in 0..2 {
            throttle.record_failure("alice");
            assert_eq!(throttle.check("alice"), Ok(()));
        }
        throttle.record_failure("alice");
        assert_eq!(throttle.check("alice"), Err(Duration::from_secs(2)));
        assert_eq!(throttle.check("bob"), Ok(()));

        clock.advance(time::Duration::seconds(2));
        assert_eq!(throttle.check("alice"), Ok(()));
        throttle.record_failure("alice");
        assert_eq!(throttle.check("alice"), Err(Duration::from_secs(4)));
    }

    #[test]
    fn locks_are_bounded_and_lift_after_a_quiet_spell() {
        let (throttle, clock) = throttle();
        for _ in 0..40 {
            throttle.record_failure("alice");
        }
        assert_eq!(throttle.check("alice"), Err(Duration::from_secs(15 * 60)));
        clock.advance(time::Duration::minutes(15));
        assert_eq!(throttle.check("alice"), Ok(()));
        // Forgotten: the free failures are free again.
        throttle.record_failure("alice");
        throttle.record_failure("alice");
        assert_eq!(throttle.check("alice"), Ok(()));
    }

    #[test]
    fn success_clears() {
        let (throttle, _) = throttle();
        for _ in 0..5 {
            throttle.record_failure("alice");
        }
        assert!(throttle.check("alice").is_err());
        throttle.clear("alice");
        assert_eq!(throttle.check("alice"), Ok(()));
    }
}
