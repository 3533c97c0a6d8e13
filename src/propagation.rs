//! Keeps this instance's caches in step with every other instance: applies the store's change
//! feed as it arrives (sub-second on PostgreSQL) and resynchronises fully on a timer and after
//! any gap in the feed, so a lost notification leaves an instance stale for at most one interval.
//! While the database is down the caches keep serving what they last knew. Each resync also
//! checks the database's readiness, which `/readyz` reports.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::clock_skew::ClockSkew;
use crate::identity::{COMMIT_WAIT, IssueLog};
use crate::keys::KeyService;
use crate::readiness::Readiness;
use crate::vocabulary::Change;

/// Resync intervals without a readiness check after which the instance is not ready: the resync
/// has stopped (a check waits at most the pool's acquire timeout, well within the margin).
const STALE_AFTER_RESYNCS: u32 = 3;
const STALE_MARGIN: Duration = Duration::from_secs(10);
use crate::revocation::Revocation;
use crate::revocation::{RETENTION_MS, RevocationCache};
use crate::store::{ChangeFeed, FeedEvent, Store, StoreError};
use crate::telemetry::metrics;

/// How often tombstones past retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

pub struct Propagation {
    store: Arc<dyn Store>,
    revocations: Arc<RevocationCache>,
    keys: Arc<KeyService>,
    issue_log: Arc<IssueLog>,
    clock: SharedClock,
    skew: Arc<ClockSkew>,
    readiness: Arc<Readiness>,
    resync_every: Duration,
    feed: Option<Box<dyn ChangeFeed>>,
}

impl Propagation {
    /// Subscribes to changes and loads the revocation state once, before the instance serves:
    /// a fresh instance must not accept a token another instance already revoked.
    pub async fn start(
        store: Arc<dyn Store>,
        revocations: Arc<RevocationCache>,
        keys: Arc<KeyService>,
        issue_log: Arc<IssueLog>,
        clock: SharedClock,
        skew: Arc<ClockSkew>,
        resync_every: Duration,
    ) -> Result<Self, StoreError> {
        let feed = store.listen().await?;
        let propagation = Propagation {
            store,
            revocations,
            keys,
            issue_log,
            readiness: Arc::new(Readiness::watched(
                clock.clone(),
                resync_every * STALE_AFTER_RESYNCS + STALE_MARGIN,
            )),
            clock,
            skew,
            resync_every,
            feed,
        };
        propagation.sync_revocations().await?;
        propagation.compare_clocks().await;
        propagation.check_readiness().await;
        Ok(propagation)
    }

    /// The database's readiness, as each resync finds it.
    pub fn readiness(&self) -> Arc<Readiness> {
        self.readiness.clone()
    }

    /// Runs until `cancel`, then flushes what is pending.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut feed = self.feed.take();
        // `start` has just synchronised: the first resync is one interval away.
        let first = tokio::time::Instant::now() + self.resync_every;
        let mut resync = tokio::time::interval_at(first, self.resync_every);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = next_event(&mut feed) => match event {
                    FeedEvent::Change(change) => self.apply(change).await,
                    FeedEvent::Gap => {
                        // Subscribe afresh, then resync, so nothing falls in between.
                        tracing::warn!("change feed interrupted; resubscribing and resynchronising");
                        feed = self.subscribe().await;
                        self.resync().await;
                    }
                },
                _ = resync.tick() => {
                    if feed.is_none() {
                        feed = self.subscribe().await;
                    }
                    self.resync().await;
                    self.flush().await;
                }
                _ = purge.tick() => self.purge().await,
            }
        }
        self.flush().await;
    }

    /// Subscribes before resynchronising, so nothing falls between the snapshot and the feed.
    async fn subscribe(&self) -> Option<Box<dyn ChangeFeed>> {
        match self.store.listen().await {
            Ok(feed) => feed,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to changes; relying on resync");
                None
            }
        }
    }

    async fn apply(&self, change: Change) {
        match change {
            Change::KeysChanged => {
                if let Err(error) = self.keys.reload().await {
                    tracing::warn!(%error, "key ring reload failed");
                }
            }
            Change::Revocation(fact) => {
                let now_ms = self.clock.now_ms();
                if let Revocation::Revoked { before_ms, .. } = fact {
                    // The cut-off is the commit instant plus the commit wait.
                    let committed_ms = before_ms - COMMIT_WAIT.as_millis() as i64;
                    let lag_ms = u64::try_from(now_ms - committed_ms).unwrap_or(0);
                    metrics::revocation_feed_lag(Duration::from_millis(lag_ms));
                }
                self.revocations.apply(fact, now_ms);
            }
            // Security events for consuming services: nothing cached here depends on them.
            Change::AccessKeyRegenerated { .. }
            | Change::AppUserErased { .. }
            | Change::PasswordChanged { .. } => {}
        }
    }

    /// Loads every revocation and deletion within retention into the cache.
    async fn sync_revocations(&self) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let snapshot = self.store.revocations_since(now - RETENTION_MS).await?;
        self.revocations.resync(&snapshot, now);
        Ok(())
    }

    /// Compares this clock with the database's (see [`ClockSkew`]).
    async fn compare_clocks(&self) {
        let sent_ms = self.clock.now_ms();
        let database_ms = match self.store.database_clock_ms().await {
            Ok(Some(ms)) => ms,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the database's clock");
                return;
            }
        };
        let received_ms = self.clock.now_ms();
        let off = self.skew.record(sent_ms, database_ms, received_ms);
        metrics::clock_skew(sent_ms + (received_ms - sent_ms) / 2 - database_ms);
        if let Some(skew_ms) = off {
            tracing::error!(
                skew_ms,
                bound_ms = self.skew.bound_ms(),
                "this instance's clock is off the database's by more than the commit wait; not ready until NTP fixes it"
            );
        }
    }

    /// First, so a probe learns of an outage before the other steps wait out their timeouts.
    async fn check_readiness(&self) {
        self.readiness.record(&self.store.check_ready().await);
    }

    async fn resync(&self) {
        self.check_readiness().await;
        self.compare_clocks().await;
        let synced = self.sync_revocations().await;
        metrics::resync(synced.is_ok());
        if let Err(error) = synced {
            tracing::warn!(%error, "revocation resync failed; serving cached state");
        }
        if let Err(error) = self.keys.reload().await {
            tracing::warn!(%error, "key ring resync failed; serving cached keys");
        }
    }

    async fn flush(&self) {
        if let Err(error) = self.issue_log.flush(self.store.as_ref()).await {
            tracing::warn!(%error, "recording lastTokenIssuedAt failed; will retry");
        }
    }

    async fn purge(&self) {
        match self
            .store
            .purge_tombstones(self.clock.now_ms() - RETENTION_MS)
            .await
        {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired identity tombstones"),
            Err(error) => tracing::warn!(%error, "tombstone purge failed"),
        }
    }
}

/// The next feed event, or never if there is no feed.
async fn next_event(feed: &mut Option<Box<dyn ChangeFeed>>) -> FeedEvent {
    match feed {
        Some(feed) => feed.next().await,
        None => std::future::pending().await,
    }
}
