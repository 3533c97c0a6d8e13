//! The audit trail: who (access key, backend client, app user, operator) did what (identity
//! created, deleted, linked to or unlinked from an app user, token issued with its scopes and
//! lifetime, tokens revoked, keys changed, account created, app user erased, sign-in failed,
//! session ended), when, from where, in which request.
//!
//! Recording never waits for the database: [`Audit::record`] queues the event and
//! [`AuditWriter`] appends the queue in batches. The queue is bounded. When it is full, an
//! issued token waits for room ([`Audit::record_issue`]) and is refused if none comes, so no
//! token leaves unaudited and issuing slows to what the writer keeps up with; any other event
//! is dropped and counted rather than undo what was already done. The request's who/where/id come from the
//! [`RequestContext`] the HTTP layer sets around each request, so the use cases record only
//! what happened.

mod context;
mod sink;
mod writer;

pub use crate::vocabulary::Action;
pub use context::{Actor, RequestContext};
use sink::AuditSink;
pub use sink::JsonLinesFile;
pub use writer::AuditWriter;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::clock::SharedClock;
use crate::store::{AuditFilter, AuditRecord, AuditStore, StoreError};
use crate::telemetry::metrics;
use crate::vocabulary::{AppUserId, IdentityId};

/// Events waiting for the writer (a few batches: the writer takes up to 2 000 at a time).
pub(crate) const QUEUE_CAPACITY: usize = 20_000;
/// How long an issued token waits for room in a full queue before it is refused.
const ROOM_WAIT: Duration = Duration::from_secs(2);
/// At most one log line this often about dropped events (with how many).
const DROP_LOG_EVERY_MS: i64 = 1_000;

/// The audit trail did not take an issued token's event in time: the token is not handed out.
#[derive(Debug, thiserror::Error)]
#[error("the audit trail is not keeping up; the token was not issued")]
pub struct AuditBacklogged;

/// One event, before the request context is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub action: Action,
    pub identity: Option<IdentityId>,
    pub app_user: Option<AppUserId>,
    /// A JSON object with what else matters (scopes, lifetime, key slot, reason).
    pub details: Option<String>,
}

impl AuditEvent {
    pub fn about_identity(action: Action, identity: IdentityId) -> Self {
        AuditEvent {
            action,
            identity: Some(identity),
            app_user: None,
            details: None,
        }
    }

    /// About an identity, caused by (or for) an app user.
    pub fn about_users_identity(action: Action, app_user: AppUserId, identity: IdentityId) -> Self {
        AuditEvent {
            action,
            identity: Some(identity),
            app_user: Some(app_user),
            details: None,
        }
    }

    pub fn about_app_user(action: Action, app_user: Option<AppUserId>) -> Self {
        AuditEvent {
            action,
            identity: None,
            app_user,
            details: None,
        }
    }

    pub fn with_details(self, details: serde_json::Value) -> Self {
        self.with_details_of(&details)
    }

    /// Details from any serialisable value (a JSON object).
    pub fn with_details_of(mut self, details: &impl serde::Serialize) -> Self {
        self.details = serde_json::to_string(details).ok();
        self
    }
}

/// Room in the audit queue for one issued token's event ([`Audit::reserve_issue`]).
pub struct IssueSlot(mpsc::OwnedPermit<AuditRecord>);

/// Where use cases record events.
pub struct Audit {
    queue: mpsc::Sender<AuditRecord>,
    store: Arc<dyn AuditStore>,
    /// Whether the trail is written to `store` (else to a file).
    in_store: bool,
    clock: SharedClock,
    /// Events dropped since the last log line about them, and when that was.
    dropped: AtomicU64,
    dropped_logged_ms: AtomicI64,
}

impl Audit {
    /// The recorder and the writer that drains it into `store` (run [`AuditWriter::run`]).
    #[cfg(test)]
    pub fn new(store: Arc<dyn AuditStore>, clock: SharedClock) -> (Arc<Audit>, AuditWriter) {
        Self::writing_to(store, None, clock)
    }

    /// The recorder and the writer that drains it into `file`, or into `store` without one;
    /// `store` is where events are listed and purged from either way.
    pub fn writing_to(
        store: Arc<dyn AuditStore>,
        file: Option<JsonLinesFile>,
        clock: SharedClock,
    ) -> (Arc<Audit>, AuditWriter) {
        let sink = match file {
            Some(file) => AuditSink::File(file),
            None => AuditSink::Store(store.clone()),
        };
        Self::with_capacity(store, sink, clock, QUEUE_CAPACITY)
    }

    fn with_capacity(
        store: Arc<dyn AuditStore>,
        sink: AuditSink,
        clock: SharedClock,
        capacity: usize,
    ) -> (Arc<Audit>, AuditWriter) {
        let (queue, pending) = mpsc::channel(capacity);
        let audit = Arc::new(Audit {
            queue,
            store,
            in_store: sink.is_store(),
            clock: clock.clone(),
            dropped: AtomicU64::new(0),
            dropped_logged_ms: AtomicI64::new(i64::MIN),
        });
        (audit, AuditWriter::new(pending, sink, clock))
    }

    /// Whether events are written to the database, so that listing them there finds them.
    pub fn is_stored(&self) -> bool {
        self.in_store
    }

    /// Queues `event` with the current request's actor, client address and request id; if the
    /// queue is full it is dropped and counted.
    pub fn record(&self, event: AuditEvent) {
        self.enqueue(self.stamped(event));
    }

    /// Reserves room for one issued token's event, waiting up to [`ROOM_WAIT`] when the writer
    /// is behind. Taken before a write transaction opens, so a full queue fails the request
    /// without holding the database's writer (on SQLite, the one writer that empties the queue).
    pub async fn reserve_issue(&self) -> Result<IssueSlot, AuditBacklogged> {
        let sender = match self.queue.clone().try_reserve_owned() {
            Ok(permit) => return Ok(IssueSlot(permit)),
            Err(mpsc::error::TrySendError::Full(sender)) => sender,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(AuditBacklogged),
        };
        metrics::audit_backpressure();
        match tokio::time::timeout(ROOM_WAIT, sender.reserve_owned()).await {
            Ok(Ok(permit)) => Ok(IssueSlot(permit)),
            _ => Err(AuditBacklogged),
        }
    }

    /// Queues a token's `event` in the room reserved for it: never waits.
    pub fn record_issue_in(&self, slot: IssueSlot, event: AuditEvent) {
        slot.0.send(self.stamped(event));
    }

    /// Queues a token's `event`, waiting up to [`ROOM_WAIT`] for room when the writer is behind.
    pub async fn record_issue(&self, event: AuditEvent) -> Result<(), AuditBacklogged> {
        let entry = match self.queue.try_send(self.stamped(event)) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(entry)) => entry,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(AuditBacklogged),
        };
        metrics::audit_backpressure();
        self.queue
            .send_timeout(entry, ROOM_WAIT)
            .await
            .map_err(|_| AuditBacklogged)
    }

    fn stamped(&self, event: AuditEvent) -> AuditRecord {
        let context = RequestContext::current();
        AuditRecord {
            id: 0,
            at_ms: self.clock.now_ms(),
            action: event.action,
            actor: context.actor.label(),
            identity: event.identity,
            app_user: event.app_user.or_else(RequestContext::acting_for),
            details: event.details,
            client_address: context.client_address.map(|ip| ip.to_string()),
            request_id: context.request_id,
            client_request_id: context.client_request_id,
        }
    }

    /// Up to `limit` written events matching `filter`, newest first.
    pub async fn events(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_events(filter, limit).await
    }

    /// Makes room for the coming days' events (call at start and periodically).
    pub async fn prepare(&self) -> Result<(), StoreError> {
        self.store.prepare_audit(self.clock.now_ms()).await
    }

    /// Forgets events older than `retention` (call periodically).
    pub async fn purge(&self, retention: Duration) -> Result<u64, StoreError> {
        let before_ms =
            self.clock.now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        self.store.purge_audit(before_ms).await
    }

    fn enqueue(&self, record: AuditRecord) {
        if self.queue.try_send(record).is_ok() {
            return;
        }
        metrics::audit_dropped();
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now_ms = self.clock.now_ms();
        let last_ms = self.dropped_logged_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last_ms) >= DROP_LOG_EVERY_MS
            && self
                .dropped_logged_ms
                .compare_exchange(last_ms, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.dropped.fetch_sub(dropped, Ordering::Relaxed);
            tracing::error!(
                dropped,
                "audit queue full or closed; audit events were dropped"
            );
        }
    }
}

#[cfg(test)]
mod tests;
