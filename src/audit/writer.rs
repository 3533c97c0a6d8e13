//! Drains the audit queue into the store in batches: what arrives within a short linger of the
//! first event (up to a full batch) is appended at once (one statement on PostgreSQL, one
//! transaction on SQLite), so a busy instance writes a few large batches a second rather than
//! thousands of single rows. A failed batch is kept and retried; at shutdown the queue is
//! drained and flushed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Entry;
use crate::clock::SharedClock;
use crate::store::{AuditRecord, AuditStore, StoreError};
use crate::telemetry::metrics;
use crate::vocabulary::{AppUserId, IdentityId};

/// The most rows appended in one batch.
const BATCH: usize = 2_000;
/// How long a batch waits for more events after its first one.
const LINGER: Duration = Duration::from_millis(10);
/// Wait before retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a shutdown keeps trying to flush.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

pub struct AuditWriter {
    pending: mpsc::Receiver<Entry>,
    store: Arc<dyn AuditStore>,
    clock: SharedClock,
    /// Rows taken from the queue but not yet written.
    batch: Vec<AuditRecord>,
    /// Scrubs not yet done (the rows queued before them are in the store or in `batch`).
    scrubs: Vec<Scrub>,
    /// Entries received from the queue but not yet taken into the batch.
    inbox: Vec<Entry>,
}

/// Identities and app user whose rows lose their client address.
type Scrub = (Vec<IdentityId>, Option<AppUserId>);

impl AuditWriter {
    pub(super) fn new(
        pending: mpsc::Receiver<Entry>,
        store: Arc<dyn AuditStore>,
        clock: SharedClock,
    ) -> Self {
        AuditWriter {
            pending,
            store,
            clock,
            batch: Vec::with_capacity(BATCH),
            scrubs: Vec::new(),
            inbox: Vec::with_capacity(BATCH),
        }
    }

    /// Writes until `cancel`, then flushes what is queued.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            if self.inbox.is_empty() {
                let received = tokio::select! {
                    _ = cancel.cancelled() => break,
                    received = self.pending.recv_many(&mut self.inbox, BATCH) => received,
                };
                if received == 0 {
                    break; // closed
                }
            }
            // One timer a batch, and the queue drained many entries at a time: under load this
            // loop runs a few times a batch, not once an event.
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            loop {
                self.take_from_inbox();
                if self.batch.len() >= BATCH || !self.scrubs.is_empty() || !self.inbox.is_empty() {
                    break;
                }
                let received = tokio::select! {
                    _ = cancel.cancelled() => 0,
                    _ = &mut linger => 0,
                    received = self.pending.recv_many(&mut self.inbox, BATCH - self.batch.len()) => received,
                };
                if received == 0 {
                    break;
                }
            }
            if !self.persist(&cancel).await {
                break;
            }
        }
        self.flush_at_shutdown().await;
    }

    /// Moves received entries into the batch: up to a full batch, and up to and including the
    /// first scrub (what follows a scrub waits for the next batch, so the scrub clears only rows
    /// queued before it).
    fn take_from_inbox(&mut self) {
        let limit = (BATCH - self.batch.len()).min(self.inbox.len());
        let cut = self.inbox[..limit]
            .iter()
            .position(|entry| matches!(entry, Entry::Scrub { .. }))
            .map_or(limit, |scrub| scrub + 1);
        for entry in self.inbox.drain(..cut) {
            match entry {
                Entry::Append(record) => self.batch.push(record),
                Entry::Scrub {
                    identities,
                    app_user,
                } => self.scrubs.push((identities, app_user)),
            }
        }
    }

    /// Writes the batch, then runs the scrubs, retrying until done; `false` if cancelled first.
    async fn persist(&mut self, cancel: &CancellationToken) -> bool {
        loop {
            match self.write_pending().await {
                Ok(()) => return true,
                Err(error) => {
                    tracing::warn!(%error, "writing the audit trail failed; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return false,
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                    }
                }
            }
        }
    }

    async fn write_pending(&mut self) -> Result<(), StoreError> {
        if !self.batch.is_empty() {
            self.store.append_audit(&self.batch).await?;
            metrics::audit_written(self.batch.len());
            self.batch.clear();
        }
        while let Some((identities, app_user)) = self.scrubs.first() {
            self.store.scrub_audit(identities, *app_user).await?;
            self.scrubs.remove(0);
        }
        Ok(())
    }

    async fn flush_at_shutdown(&mut self) {
        self.pending.close();
        while let Ok(entry) = self.pending.try_recv() {
            self.inbox.push(entry);
        }
        let deadline = self.clock.now_ms() + SHUTDOWN_FLUSH.as_millis() as i64;
        loop {
            self.take_from_inbox();
            match self.write_pending().await {
                Ok(()) if self.inbox.is_empty() => return,
                Ok(()) => {}
                Err(error) if self.clock.now_ms() >= deadline => {
                    let lost = self.batch.len() + self.inbox.len();
                    tracing::error!(%error, lost, "audit events could not be written before shutdown");
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}
