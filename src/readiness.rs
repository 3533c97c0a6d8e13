//! Whether the database is ready, as the last resynchronisation found it: `/readyz` answers
//! from this, so a probe anyone may call costs no query. It lags the database by at most one
//! resync interval (`CALLSIGN_RESYNC_INTERVAL_MS`), which orchestrators' probe periods exceed.
//! A verdict older than a few intervals means the resync itself has stopped, and is not ready.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::store::StoreError;

/// The database as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseState {
    Ready,
    /// Reachable, but a migration this build ships is missing or failed.
    NotMigrated,
    Unreachable,
    /// No check for longer than the resync should take: it has stopped, and the caches with it.
    Stale,
}

impl DatabaseState {
    fn of(result: &Result<(), StoreError>) -> Self {
        match result {
            Ok(()) => DatabaseState::Ready,
            Err(StoreError::NotMigrated(_)) => DatabaseState::NotMigrated,
            Err(_) => DatabaseState::Unreachable,
        }
    }

    const ALL: [DatabaseState; 3] = [
        DatabaseState::Ready,
        DatabaseState::NotMigrated,
        DatabaseState::Unreachable,
    ];
}

/// The latest [`DatabaseState`], written by the resync and read by every probe.
pub struct Readiness {
    state: AtomicU8,
    /// When the last check was recorded, and how old it may grow; none: never stale.
    watch: Option<(SharedClock, i64)>,
    checked_at_ms: AtomicI64,
    /// When the database was first found unreachable in the current outage; 0: reachable.
    unreachable_since_ms: AtomicI64,
}

impl Default for Readiness {
    /// Ready, and never stale: an instance is built only on a database it has just migrated.
    fn default() -> Self {
        Readiness {
            state: AtomicU8::new(DatabaseState::Ready as u8),
            watch: None,
            checked_at_ms: AtomicI64::new(0),
            unreachable_since_ms: AtomicI64::new(0),
        }
    }
}

impl Readiness {
    /// Ready until told otherwise, and [`DatabaseState::Stale`] once no check has been recorded
    /// for `stale_after`.
    pub fn watched(clock: SharedClock, stale_after: Duration) -> Self {
        let stale_after_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        Readiness {
            checked_at_ms: AtomicI64::new(clock.now_ms()),
            watch: Some((clock, stale_after_ms)),
            ..Readiness::default()
        }
    }

    pub fn database(&self) -> DatabaseState {
        if let Some((clock, stale_after_ms)) = &self.watch {
            let age_ms = clock.now_ms() - self.checked_at_ms.load(Ordering::Relaxed);
            if age_ms > *stale_after_ms {
                return DatabaseState::Stale;
            }
        }
        let state = self.state.load(Ordering::Relaxed);
        DatabaseState::ALL
            .into_iter()
            .find(|known| *known as u8 == state)
            .unwrap_or(DatabaseState::Unreachable)
    }

    /// How long the database has been unreachable, when it is.
    pub fn unreachable_for(&self) -> Option<Duration> {
        let since = self.unreachable_since_ms.load(Ordering::Relaxed);
        let (clock, _) = self.watch.as_ref()?;
        (since != 0 && self.database() == DatabaseState::Unreachable).then(|| {
            Duration::from_millis(u64::try_from(clock.now_ms() - since).unwrap_or_default())
        })
    }

    /// Records a readiness check; logged once per change rather than once per probe.
    pub fn record(&self, result: &Result<(), StoreError>) {
        let now_ms = self.watch.as_ref().map(|(clock, _)| clock.now_ms());
        if let Some(now_ms) = now_ms {
            self.checked_at_ms.store(now_ms, Ordering::Relaxed);
        }
        let state = DatabaseState::of(result);
        let previous = self.state.swap(state as u8, Ordering::Relaxed);
        if previous == state as u8 {
            return;
        }
        let since = match state {
            DatabaseState::Unreachable => now_ms.unwrap_or_default().max(1),
            _ => 0,
        };
        self.unreachable_since_ms.store(since, Ordering::Relaxed);
        match result {
            Ok(()) => tracing::info!("ready: the database is reachable and migrated"),
            Err(error) => tracing::warn!(%error, "not ready"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_check_is_the_state() {
        let readiness = Readiness::default();
        assert_eq!(readiness.database(), DatabaseState::Ready);
        readiness.record(&Err(StoreError::NotMigrated(
            "1 migration not applied".into(),
        )));
        assert_eq!(readiness.database(), DatabaseState::NotMigrated);
        readiness.record(&Err(StoreError::Config("unreachable".into())));
        assert_eq!(readiness.database(), DatabaseState::Unreachable);
        readiness.record(&Ok(()));
        assert_eq!(readiness.database(), DatabaseState::Ready);
    }

    #[test]
    fn a_verdict_nobody_renews_goes_stale() {
        let clock = std::sync::Arc::new(crate::clock::MockClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        let readiness = Readiness::watched(clock.clone(), Duration::from_secs(15));
        assert_eq!(readiness.database(), DatabaseState::Ready);
        clock.advance(time::Duration::seconds(15));
        assert_eq!(readiness.database(), DatabaseState::Ready);
        clock.advance(time::Duration::milliseconds(1));
        assert_eq!(readiness.database(), DatabaseState::Stale);
        readiness.record(&Ok(()));
        assert_eq!(readiness.database(), DatabaseState::Ready);
    }

    #[test]
    fn an_outage_is_timed_from_its_first_check() {
        let clock = std::sync::Arc::new(crate::clock::MockClock::new(
            time::macros::datetime!(2026-01-01 0:00 UTC),
        ));
        let readiness = Readiness::watched(clock.clone(), Duration::from_secs(60));
        assert_eq!(readiness.unreachable_for(), None);
        readiness.record(&Err(StoreError::Config("unreachable".into())));
        clock.advance(time::Duration::seconds(10));
        readiness.record(&Err(StoreError::Config("still unreachable".into())));
        assert_eq!(readiness.unreachable_for(), Some(Duration::from_secs(10)));
        readiness.record(&Ok(()));
        assert_eq!(readiness.unreachable_for(), None);
    }
}
