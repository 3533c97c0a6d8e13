//! Whether this instance's clock agrees with the database's. Revocation holds across instances
//! only while their clocks are within the commit wait of each other (docs/how-it-works.md);
//! instances sharing PostgreSQL are compared with its clock at every resync. An instance off by
//! more is not ready (`/readyz` says why) and logs an error, so a load balancer stops sending it
//! requests instead of letting it issue tokens a revocation might miss.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// No measurement yet (or the store has no clock of its own).
const UNMEASURED: i64 = i64::MIN;

#[derive(Debug)]
pub struct ClockSkew {
    /// The largest skew tolerated, in ms.
    bound_ms: i64,
    /// This clock minus the database's, in ms, beyond the measurement's own uncertainty (0
    /// when within it).
    excess_ms: AtomicI64,
}

impl ClockSkew {
    pub fn new(bound: Duration) -> Self {
        ClockSkew {
            bound_ms: i64::try_from(bound.as_millis()).unwrap_or(i64::MAX),
            excess_ms: AtomicI64::new(UNMEASURED),
        }
    }

    /// Records one comparison: the database read `database_ms` between this clock's `sent_ms`
    /// and `received_ms`. Returns the skew when it is beyond the bound.
    pub fn record(&self, sent_ms: i64, database_ms: i64, received_ms: i64) -> Option<i64> {
        let midpoint = sent_ms + (received_ms - sent_ms) / 2;
        let skew = midpoint - database_ms;
        // The database read its clock somewhere in the round trip; a millisecond for rounding.
        let uncertainty = (received_ms - sent_ms) / 2 + 1;
        let excess = if skew.abs() > uncertainty {
            skew - skew.signum() * uncertainty
        } else {
            0
        };
        self.excess_ms.store(excess, Ordering::Relaxed);
        (excess.abs() > self.bound_ms).then_some(skew)
    }

    /// The skew beyond the bound, if the last comparison found one.
    pub fn beyond_bound(&self) -> Option<i64> {
        let excess = self.excess_ms.load(Ordering::Relaxed);
        (excess != UNMEASURED && excess.abs() > self.bound_ms).then_some(excess)
    }

    pub fn bound_ms(&self) -> i64 {
        self.bound_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_counts_only_beyond_the_round_trip_and_the_bound() {
        let watch = ClockSkew::new(Duration::from_millis(20));
        assert_eq!(watch.beyond_bound(), None, "unmeasured");
        // Sent at 1000, received at 1010, database said 1005: no skew.
        assert_eq!(watch.record(1_000, 1_005, 1_010), None);
        assert_eq!(watch.beyond_bound(), None);
        // This clock 1 s ahead.
        assert_eq!(watch.record(2_000, 1_005, 2_010), Some(1_000));
        assert!(watch.beyond_bound().is_some_and(|excess| excess > 900));
        // 1 s behind.
        assert_eq!(watch.record(0, 1_005, 10), Some(-1_000));
        // 15 ms off with a 40 ms round trip: could be no skew at all.
        assert_eq!(watch.record(1_000, 1_005, 1_040), None);
        assert_eq!(watch.beyond_bound(), None);
    }
}
