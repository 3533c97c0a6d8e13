//! Whether the database is ready, as the last resynchronisation found it: `/readyz` answers
//! from this, so a probe anyone may call costs no query. It lags the database by at most one
//! resync interval (`CALLSIGN_RESYNC_INTERVAL_MS`), which orchestrators' probe periods exceed.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::store::StoreError;

/// The database as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseState {
    Ready,
    /// Reachable, but a migration this build ships is missing or failed.
    NotMigrated,
    Unreachable,
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
pub struct Readiness(AtomicU8);

impl Default for Readiness {
    /// Ready: an instance is built only on a database it has just migrated.
    fn default() -> Self {
        Readiness(AtomicU8::new(DatabaseState::Ready as u8))
    }
}

impl Readiness {
    pub fn database(&self) -> DatabaseState {
        let state = self.0.load(Ordering::Relaxed);
        DatabaseState::ALL
            .into_iter()
            .find(|known| *known as u8 == state)
            .unwrap_or(DatabaseState::Unreachable)
    }

    /// Records a readiness check; logged once per change rather than once per probe.
    pub fn record(&self, result: &Result<(), StoreError>) {
        let state = DatabaseState::of(result);
        let previous = self.0.swap(state as u8, Ordering::Relaxed);
        if previous == state as u8 {
            return;
        }
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
}
