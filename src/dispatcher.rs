//! The post-commit dispatcher: takes what the store's transactional outbox holds and delivers
//! it (on PostgreSQL, a `NOTIFY` every instance's change feed hears; to every event stream, the
//! security events it means, then wakes the push deliveries). It wakes the moment a
//! transaction that wrote to the outbox commits on this instance, so the instance that made a
//! change adds no polling delay; it also sweeps on a timer, for rows an instance left when it
//! died between its commit and its drain, and once at start, for this instance's own.
//!
//! Work that must happen after a commit goes here, written to the outbox in the committing
//! transaction: never done from inside the transaction, never from an in-memory queue a crash
//! could drop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::store::Store;
use crate::telemetry::metrics;

/// The most rows one drain step takes.
const BATCH: u32 = 500;
/// How often rows left by other instances are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: SharedClock,
    /// Notified when security events were queued.
    signals_queued: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, signals_queued: Arc<Notify>) -> Self {
        Dispatcher {
            store,
            clock,
            signals_queued,
        }
    }

    /// Drains until `cancel`, then once more.
    pub async fn run(self, cancel: CancellationToken) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.drain().await;
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.store.outbox_signal().notified() => {}
                _ = sweep.tick() => {}
            }
        }
        self.drain().await;
    }

    /// Delivers everything waiting, a batch at a time; a failure leaves the rest for the next
    /// wake or sweep.
    pub async fn drain(&self) {
        loop {
            match self.store.dispatch_outbox(BATCH, self.clock.now_ms()).await {
                Ok(dispatched) => {
                    if !dispatched.is_empty() {
                        metrics::outbox_dispatched(dispatched.len());
                    }
                    if dispatched.fan_out.queued > 0 {
                        metrics::signals_queued(dispatched.fan_out.queued);
                        self.signals_queued.notify_waiters();
                    }
                    for stream in &dispatched.fan_out.dropped {
                        metrics::signal_dropped(stream);
                        tracing::warn!(stream = %stream, "a security event was dropped: the stream holds as many undelivered events as it may");
                    }
                    if dispatched.unknown > 0 {
                        tracing::warn!(
                            rows = dispatched.unknown,
                            "outbox rows of a newer version were delivered without being read"
                        );
                    }
                    if dispatched.len() < BATCH as usize {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "draining the outbox failed; retrying at the next sweep");
                    return;
                }
            }
        }
    }
}
