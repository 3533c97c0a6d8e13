//! Keyed rate limits (GCRA, by `governor`) read from the injected clock, so they are tested
//! without sleeping. Each limit is a count per period with a burst of the same size.
//!
//! The keys a limit remembers are bounded: past [`MAX_KEYS`] the least recently seen key is
//! forgotten first (moka's LRU; recency is recorded in batches, so "least recently" is close,
//! not exact). Forgetting a key only gives it a fresh burst, and whoever can push a key out
//! (by presenting `MAX_KEYS` others since it was last seen) already holds that many fresh
//! bursts; a key being limited now was seen now, so it is the last to go.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use crate::clock::SharedClock;

/// The most keys one limit remembers: every address (or caller, or identity) active within a
/// limit's period at the rates one instance serves, a few tens of MiB at most.
const MAX_KEYS: u64 = 100_000;

/// The address a client is limited under: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network), so rotating through one's own addresses does not escape a limit. An IPv4-mapped
/// address is its IPv4 address: else every IPv4 client of a dual-stack listener would share
/// `::ffff:0:0/64`.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        ip @ IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
    }
}

/// The injected clock, as governor reads time.
#[derive(Clone)]
struct LimiterClock(SharedClock);

impl governor::clock::Clock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(u64::try_from(self.0.now_ms()).unwrap_or(0) * 1_000_000)
    }
}

/// How many requests per period one key may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// One a minute: the least a limit may allow.
    pub const MIN_PER_MINUTE: Rate = Rate {
        count: NonZeroU32::MIN,
        per: Duration::from_secs(60),
    };

    pub fn per_second(count: u32) -> Option<Rate> {
        Self::new(count, Duration::from_secs(1))
    }

    pub fn per_minute(count: u32) -> Option<Rate> {
        Self::new(count, Duration::from_secs(60))
    }

    /// `None` for a count of 0: no limit.
    fn new(count: u32, per: Duration) -> Option<Rate> {
        NonZeroU32::new(count).map(|count| Rate { count, per })
    }

    fn quota(self) -> Quota {
        let interval = self.per / self.count.get();
        Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

/// Keys to their GCRA state (governor's theoretical arrival time, in nanoseconds since the
/// limiter started; 0 for none yet), at most a fixed number, the least recently seen evicted
/// first.
struct BoundedStore<K> {
    states: Cache<K, Arc<AtomicU64>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> BoundedStore<K> {
    fn new(capacity: u64) -> Self {
        BoundedStore {
            states: Cache::builder()
                .max_capacity(capacity)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
        }
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> StateStore for BoundedStore<K> {
    type Key = K;

    /// Governor's compare-and-swap on one key's state, as its own stores do it.
    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let state = self.states.get_with_by_ref(key, Arc::default);
        let mut previous = state.load(Ordering::Acquire);
        loop {
            let (result, next) = f(NonZeroU64::new(previous).map(|n| Nanos::from(n.get())))?;
            match state.compare_exchange_weak(
                previous,
                next.into(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(result),
                Err(current) => previous = current,
            }
        }
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> ShrinkableKeyedStateStore<K>
    for BoundedStore<K>
{
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = u64::from(drop_below);
        for (key, state) in &self.states {
            if state.load(Ordering::Relaxed) <= drop_below {
                self.states.invalidate(key.as_ref());
            }
        }
    }

    fn len(&self) -> usize {
        self.states.run_pending_tasks();
        usize::try_from(self.states.entry_count()).unwrap_or(usize::MAX)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A rate limit per key.
pub struct KeyedLimit<K: Hash + Eq + Clone + Send + Sync + 'static> {
    limiter: RateLimiter<K, BoundedStore<K>, LimiterClock, NoOpMiddleware<Nanos>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimit<K> {
    pub fn new(rate: Rate, clock: SharedClock) -> Self {
        Self::with_capacity(rate, clock, MAX_KEYS)
    }

    fn with_capacity(rate: Rate, clock: SharedClock, capacity: u64) -> Self {
        KeyedLimit {
            limiter: RateLimiter::new(
                rate.quota(),
                BoundedStore::new(capacity),
                LimiterClock(clock),
            ),
        }
    }

    /// Counts a request of `key`; `Err` says how long until it may ask again.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Forgets keys that are back to a full burst (call periodically).
    pub fn forget_quiet(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::MockClock;

    #[test]
    fn a_burst_then_one_per_interval_per_key() {
        let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
        let limit = KeyedLimit::new(Rate::per_minute(3).unwrap(), clock.clone());
        for _ in 0..3 {
            assert!(limit.check(&"a").is_ok());
        }
        let wait = limit.check(&"a").unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(limit.check(&"b").is_ok(), "keys are limited separately");
        clock.advance(time::Duration::seconds(20));
        assert!(limit.check(&"a").is_ok());
        assert!(limit.check(&"a").is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        assert_eq!(Rate::per_second(0), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
    }

    #[test]
    fn ipv4_mapped_clients_are_keyed_by_their_ipv4_address() {
        let mapped = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = client_key(mapped("::ffff:192.0.2.7"));
        let b = client_key(mapped("::ffff:192.0.2.8"));
        assert_ne!(a, b, "two IPv4 clients of a dual-stack listener");
        assert_eq!(a, mapped("192.0.2.7"));
    }

    #[test]
    fn the_keys_remembered_are_bounded_and_the_least_recently_seen_go_first() {
        let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
        let limit = KeyedLimit::with_capacity(Rate::per_minute(1).unwrap(), clock, 8);
        limit.check(&0).unwrap();
        for key in 1..1000 {
            // The limited key keeps asking: it stays limited while others come and go.
            assert!(limit.check(&0).is_err(), "key 0 forgotten before {key}");
            limit.check(&key).unwrap();
            // Recency is recorded in batches; settle each step's.
            assert!(limit.limiter.len() <= 8, "{} keys", limit.limiter.len());
        }
        assert!(limit.limiter.len() <= 8, "{} keys", limit.limiter.len());
        assert!(limit.check(&0).is_err());
        // A key pushed out comes back with a fresh burst: what a new key gets anyway.
        assert!(limit.check(&1).is_ok());
    }

    #[test]
    fn quiet_keys_are_forgotten() {
        let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
        let limit = KeyedLimit::new(Rate::per_minute(2).unwrap(), clock.clone());
        limit.check(&"a").unwrap();
        clock.advance(time::Duration::seconds(60));
        limit.check(&"b").unwrap();
        limit.forget_quiet();
        assert_eq!(
            limit.limiter.len(),
            1,
            "a is back to a full burst; b is not"
        );
        limit.check(&"b").unwrap();
        assert!(limit.check(&"b").is_err(), "b was remembered");
    }
}
