//! Drains the audit queue into its sink (the store, or a file) in batches: what arrives within
//! a short linger of the first event (up to a full batch) is appended at once (one statement on
//! PostgreSQL, one transaction on SQLite, one append to a file), so a busy instance writes a few
//! large batches a second rather than thousands of single rows. A failed batch is kept and
//! retried; at shutdown the queue is drained and flushed.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::AuditSink;
use crate::clock::SharedClock;
use crate::store::AuditRecord;
use crate::telemetry::metrics;

/// The most rows appended in one batch.
const BATCH: usize = 2_000;
/// How long a batch waits for more events after its first one.
const LINGER: Duration = Duration::from_millis(10);
/// Wait before retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a shutdown keeps trying to flush.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

pub struct AuditWriter {
    pending: mpsc::Receiver<AuditRecord>,
    sink: AuditSink,
    clock: SharedClock,
    /// Rows taken from the queue but not yet written.
    batch: Vec<AuditRecord>,
}

impl AuditWriter {
    pub(super) fn new(
        pending: mpsc::Receiver<AuditRecord>,
        sink: AuditSink,
        clock: SharedClock,
    ) -> Self {
        AuditWriter {
            pending,
            sink,
            clock,
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Writes until `cancel`, then flushes what is queued.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            if self.batch.is_empty() {
                let received = tokio::select! {
                    _ = cancel.cancelled() => break,
                    received = self.pending.recv_many(&mut self.batch, BATCH) => received,
                };
                if received == 0 {
                    break; // closed
                }
            }
            // One timer a batch, and the queue drained many rows at a time: under load this
            // loop runs a few times a batch, not once an event.
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while self.batch.len() < BATCH {
                let room = BATCH - self.batch.len();
                let received = tokio::select! {
                    _ = cancel.cancelled() => 0,
                    _ = &mut linger => 0,
                    received = self.pending.recv_many(&mut self.batch, room) => received,
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

    /// Writes the batch, retrying until done; `false` if cancelled first.
    async fn persist(&mut self, cancel: &CancellationToken) -> bool {
        loop {
            match self.write_batch().await {
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

    async fn write_batch(&mut self) -> anyhow::Result<()> {
        if !self.batch.is_empty() {
            self.sink.append(&self.batch).await?;
            metrics::audit_written(self.batch.len());
            self.batch.clear();
        }
        Ok(())
    }

    async fn flush_at_shutdown(&mut self) {
        self.pending.close();
        let mut rest = Vec::new();
        while let Ok(record) = self.pending.try_recv() {
            rest.push(record);
        }
        let deadline = self.clock.now_ms() + SHUTDOWN_FLUSH.as_millis() as i64;
        loop {
            let room = BATCH.saturating_sub(self.batch.len()).min(rest.len());
            self.batch.extend(rest.drain(..room));
            match self.write_batch().await {
                Ok(()) if rest.is_empty() => return,
                Ok(()) => {}
                Err(error) if self.clock.now_ms() >= deadline => {
                    let lost = self.batch.len() + rest.len();
                    tracing::error!(%error, lost, "audit events could not be written before shutdown");
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}
