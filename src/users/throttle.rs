//! Throttling of failed sign-ins, per key (an account name, a client address, or the pair).
//! Temporary and incremental: the first failures are free; from the `free_failures`-th on,
//! each failure locks the key for twice as long as the last (2 s, 4 s, 8 s, … up to 15 min),
//! and a key quiet for an hour starts afresh: four times the longest lock, so that waiting out
//! the longest lock does not buy the free failures back (a patient guesser gets one guess per
//! 15 minutes, not the free ones again every half hour).
//!
//! An attempt counts as a failure from the moment it is let through, atomically with the check,
//! so a burst of concurrent guesses cannot all slip past before the first failure is recorded;
//! a success then forgives it.

use std::time::Duration;

use moka::ops::compute::Op;
use moka::sync::Cache;

use crate::clock::SharedClock;

/// The longest lock.
const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// A key quiet this long is forgotten.
const FORGET_AFTER_MS: i64 = 4 * MAX_LOCK_MS;
const MAX_KEYS: u64 = 1_000_000;
/// The first lock.
const BASE_LOCK_MS: i64 = 2000;
/// `locked_until_ms` of a key that is not locked. Not "now": an attempt that read the clock
/// just before another updated the key (concurrent sign-ins to one account) would take a
/// "now" later than its own for a lock.
const UNLOCKED: i64 = i64::MIN;

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
    /// Locks from the `free_failures`-th failure on.
    pub fn new(free_failures: u32, clock: SharedClock) -> Self {
        Throttle {
            free_failures: free_failures.max(1),
            records: Cache::builder().max_capacity(MAX_KEYS).build(),
            clock,
        }
    }

    /// How many recent failures `key` has, or `Err(retry_after)` while it is locked; counts
    /// nothing (a caller deciding whether to let an attempt through at all).
    pub fn peek(&self, key: &str) -> Result<u32, Duration> {
        let now_ms = self.clock.now_ms();
        verdict(remembered(self.records.get(key), now_ms), now_ms)
    }

    /// Lets an attempt through and counts it as a failure, or `Err(retry_after)` while `key` is
    /// locked. `Ok` holds how many recent failures the key had before this attempt.
    pub fn attempt(&self, key: &str) -> Result<u32, Duration> {
        let now_ms = self.clock.now_ms();
        let mut outcome = Ok(0);
        self.records
            .entry(key.to_owned())
            .and_compute_with(|current| {
                let current = remembered(current.map(|entry| entry.into_value()), now_ms);
                outcome = verdict(current, now_ms);
                let Ok(before) = outcome else {
                    return Op::Nop;
                };
                let failures = before + 1;
                Op::Put(Record {
                    failures,
                    last_failure_ms: now_ms,
                    locked_until_ms: self.lock_until(failures, now_ms),
                })
            });
        outcome
    }

    /// Counts a failure even while `key` is locked (an attempt let through past its lock by
    /// another rule); the lock grows as for any other failure. Returns how long it now lasts.
    pub fn fail(&self, key: &str) -> Duration {
        let now_ms = self.clock.now_ms();
        let mut locked_for = Duration::ZERO;
        self.records
            .entry(key.to_owned())
            .and_compute_with(|current| {
                let current = remembered(current.map(|entry| entry.into_value()), now_ms);
                let failures = current.map_or(0, |r| r.failures) + 1;
                let locked_until_ms = self
                    .lock_until(failures, now_ms)
                    .max(current.map_or(UNLOCKED, |r| r.locked_until_ms));
                locked_for = until(locked_until_ms, now_ms);
                Op::Put(Record {
                    failures,
                    last_failure_ms: now_ms,
                    locked_until_ms,
                })
            });
        locked_for
    }

    /// Takes back the failure an attempt was counted as: it succeeded, or nothing was checked.
    pub fn forgive(&self, key: &str) {
        self.records
            .entry(key.to_owned())
            .and_compute_with(|current| match current.map(|e| e.into_value()) {
                Some(record) if record.failures > 1 => {
                    let failures = record.failures - 1;
                    Op::Put(Record {
                        failures,
                        locked_until_ms: if failures < self.free_failures {
                            UNLOCKED
                        } else {
                            record.locked_until_ms
                        },
                        ..record
                    })
                }
                Some(_) => Op::Remove,
                None => Op::Nop,
            });
    }

    pub fn clear(&self, key: &str) {
        self.records.invalidate(key);
    }

    fn lock_until(&self, failures: u32, now_ms: i64) -> i64 {
        match failures.checked_sub(self.free_failures) {
            Some(over) => {
                now_ms
                    + BASE_LOCK_MS
                        .saturating_mul(1 << over.min(20))
                        .min(MAX_LOCK_MS)
            }
            None => UNLOCKED,
        }
    }
}

/// The record, unless it has been quiet long enough to be forgotten.
fn remembered(record: Option<Record>, now_ms: i64) -> Option<Record> {
    record.filter(|record| now_ms - record.last_failure_ms < FORGET_AFTER_MS)
}

/// A remembered record's recent failures, or how long it is still locked.
fn verdict(record: Option<Record>, now_ms: i64) -> Result<u32, Duration> {
    match record {
        Some(record) if record.locked_until_ms > now_ms => {
            Err(until(record.locked_until_ms, now_ms))
        }
        Some(record) => Ok(record.failures),
        None => Ok(0),
    }
}

/// From `now_ms` until `until_ms` (nothing if that has passed).
fn until(until_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(until_ms.saturating_sub(now_ms)).unwrap_or(0))
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
        for _ in 0..3 {
            assert!(throttle.attempt("alice").is_ok());
        }
        assert_eq!(throttle.attempt("alice"), Err(Duration::from_secs(2)));
        assert_eq!(throttle.attempt("bob"), Ok(0));

        clock.advance(time::Duration::seconds(2));
        assert_eq!(throttle.attempt("alice"), Ok(3));
        assert_eq!(throttle.attempt("alice"), Err(Duration::from_secs(4)));
    }

    #[test]
    fn under_its_free_failures_a_key_is_never_locked_whatever_the_clock_reads() {
        // Concurrent attempts read the clock before their turn on the key, so one may come with
        // a reading older than the key's last update; a clock stepping back does the same.
        let (throttle, clock) = throttle();
        throttle.attempt("alice").unwrap();
        clock.advance(time::Duration::milliseconds(-1));
        assert!(throttle.attempt("alice").is_ok());
        clock.advance(time::Duration::milliseconds(5));
        throttle.forgive("alice");
        clock.advance(time::Duration::milliseconds(-1));
        assert!(throttle.attempt("alice").is_ok());
    }

    #[test]
    fn a_burst_cannot_slip_past_the_lock() {
        let (throttle, _) = throttle();
        let admitted = (0..100)
            .filter(|_| throttle.attempt("alice").is_ok())
            .count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn locks_are_bounded_and_lift_after_a_quiet_spell() {
        let (throttle, clock) = throttle();
        let mut longest = Duration::ZERO;
        // A persistent guesser who waits out every lock.
        for _ in 0..40 {
            if let Err(wait) = throttle.attempt("alice") {
                longest = longest.max(wait);
                clock.advance(time::Duration::try_from(wait).unwrap());
            }
        }
        assert_eq!(longest, Duration::from_secs(15 * 60));
        let _ = throttle.attempt("alice");
        // Waiting out the longest lock buys one attempt, not the free failures again.
        clock.advance(time::Duration::minutes(15));
        assert_eq!(throttle.peek("alice").map(|_| ()), Ok(()));
        assert!(throttle.attempt("alice").is_ok());
        assert!(throttle.attempt("alice").is_err());
        // Forgotten after an hour's quiet: the free failures are free again.
        clock.advance(time::Duration::minutes(60));
        assert_eq!(throttle.peek("alice"), Ok(0));
        assert!(throttle.attempt("alice").is_ok());
        assert!(throttle.attempt("alice").is_ok());
    }

    #[test]
    fn a_failure_counted_past_the_lock_extends_it() {
        let (throttle, clock) = throttle();
        for _ in 0..3 {
            throttle.attempt("alice").unwrap();
        }
        assert_eq!(throttle.attempt("alice"), Err(Duration::from_secs(2)));
        assert_eq!(throttle.fail("alice"), Duration::from_secs(4));
        clock.advance(time::Duration::seconds(3));
        assert_eq!(throttle.attempt("alice"), Err(Duration::from_secs(1)));
        // On a key never seen, the free failures are still free.
        assert_eq!(throttle.fail("bob"), Duration::ZERO);
        assert_eq!(throttle.attempt("bob"), Ok(1));
    }

    #[test]
    fn a_success_is_forgiven_and_clear_resets() {
        let (throttle, _) = throttle();
        for _ in 0..3 {
            throttle.attempt("alice").unwrap();
            throttle.forgive("alice");
        }
        assert!(throttle.attempt("alice").is_ok());
        throttle.attempt("alice").unwrap();
        throttle.attempt("alice").unwrap();
        assert!(throttle.attempt("alice").is_err());
        throttle.clear("alice");
        assert!(throttle.attempt("alice").is_ok());
    }
}
