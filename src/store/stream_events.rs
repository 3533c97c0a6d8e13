//! The events queued for each stream until its receiver has them. They are queued in the
//! transaction that takes their change out of the outbox (`fan_out`), so a change is queued
//! for every stream exactly when it committed. Push deliveries claim events for a while
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so of many instances one sends each); an instance
//! that dies mid-delivery leaves its claim to run out and another sends again: at least once.
//! Polled events stay until acknowledged.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::{Change, Signal};

/// The most events a stream holds undelivered (paused, polled and not acknowledged, or
/// failing); past it new events for the stream are dropped, counted and logged.
pub const MAX_QUEUED_PER_STREAM: i64 = 10_000;

/// An event waiting for its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub id: i64,
    pub stream_id: String,
    pub jti: String,
    /// [`Signal::encode`]d.
    pub signal: String,
    pub created_at_ms: i64,
    /// Delivery attempts so far, this one included for a claimed push.
    pub attempts: i32,
}

/// What one drain queued.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FanOut {
    pub queued: usize,
    /// Streams that were full, once per event dropped.
    pub dropped: Vec<String>,
}

/// A stream's queue, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub stream_id: String,
    pub queued: i64,
    pub oldest_ms: Option<i64>,
}

#[async_trait]
pub trait StreamEventStore: Send + Sync {
    /// Queues one event for one stream (a verification, a status change); `false` if the
    /// stream is full.
    async fn queue_stream_event(
        &self,
        stream_id: &str,
        jti: &str,
        signal: &Signal,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Claims up to `limit` push events that are due, for enabled streams, until
    /// `lease_until_ms`; each claim counts an attempt.
    async fn claim_push_events(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<QueuedEvent>, StoreError>;
    /// The receiver has it (or refused it for good): forgotten.
    async fn forget_stream_event(&self, id: i64) -> Result<(), StoreError>;
    /// Tried and failed: due again at `next_attempt_at_ms`.
    async fn retry_stream_event(&self, id: i64, next_attempt_at_ms: i64) -> Result<(), StoreError>;
    /// The oldest `limit` events of a stream, for a poll (they stay until acknowledged).
    async fn pending_stream_events(
        &self,
        stream_id: &str,
        limit: u32,
    ) -> Result<Vec<QueuedEvent>, StoreError>;
    /// Forgets the events of `stream_id` with these `jti`s; how many there were.
    async fn acknowledge_stream_events(
        &self,
        stream_id: &str,
        jtis: &[String],
    ) -> Result<u64, StoreError>;
    /// Each stream's queue: how many, and the oldest.
    async fn queue_depths(&self) -> Result<Vec<QueueDepth>, StoreError>;
}

const LIVE_STREAMS: &str =
    "SELECT id, events_delivered FROM event_streams WHERE status <> 'disabled'";
const EXCLUSIONS: &str = "SELECT x.stream_id, x.subject_key FROM event_stream_exclusions x \
     JOIN event_streams s ON s.id = x.stream_id WHERE s.status <> 'disabled'";
const QUEUED: &str = "SELECT stream_id, COUNT(*) AS queued FROM stream_events GROUP BY stream_id";
const QUEUED_ONE: &str = "SELECT COUNT(*) FROM stream_events WHERE stream_id = $1";
const INSERT: &str = "INSERT INTO stream_events (stream_id, jti, signal, created_at_ms, \
     next_attempt_at_ms) VALUES ($1, $2, $3, $4, $4)";
const CLAIM_PG: &str = "UPDATE stream_events SET claimed_until_ms = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT e.id FROM stream_events e JOIN event_streams s ON s.id = e.stream_id \
       WHERE s.status = 'enabled' AND s.method = 'push' AND e.next_attempt_at_ms <= $1 \
         AND (e.claimed_until_ms IS NULL OR e.claimed_until_ms <= $1) \
       ORDER BY e.id LIMIT $3 FOR UPDATE OF e SKIP LOCKED) \
     RETURNING id, stream_id, jti, signal, created_at_ms, attempts";
const CLAIM_SQLITE: &str = "UPDATE stream_events SET claimed_until_ms = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT e.id FROM stream_events e JOIN event_streams s ON s.id = e.stream_id \
       WHERE s.status = 'enabled' AND s.method = 'push' AND e.next_attempt_at_ms <= $1 \
         AND (e.claimed_until_ms IS NULL OR e.claimed_until_ms <= $1) \
       ORDER BY e.id LIMIT $3) \
     RETURNING id, stream_id, jti, signal, created_at_ms, attempts";
const FORGET: &str = "DELETE FROM stream_events WHERE id = $1";
const RETRY: &str =
    "UPDATE stream_events SET next_attempt_at_ms = $2, claimed_until_ms = NULL WHERE id = $1";
const PENDING: &str = "SELECT id, stream_id, jti, signal, created_at_ms, attempts \
     FROM stream_events WHERE stream_id = $1 ORDER BY id LIMIT $2";
const ACK: &str = "DELETE FROM stream_events WHERE stream_id = $1 AND jti = $2";
const DEPTHS: &str = "SELECT s.id AS stream_id, COUNT(e.id) AS queued, MIN(e.created_at_ms) AS oldest_ms \
     FROM event_streams s LEFT JOIN stream_events e ON e.stream_id = s.id GROUP BY s.id";

fn queued_event<R: Row>(row: &R) -> Result<QueuedEvent, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(QueuedEvent {
        id: row.try_get("id")?,
        stream_id: row.try_get("stream_id")?,
        jti: row.try_get("jti")?,
        signal: row.try_get("signal")?,
        created_at_ms: row.try_get("created_at_ms")?,
        attempts: row.try_get("attempts")?,
    })
}

/// A fresh `jti`.
fn jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Stamps out, for one backend, `fan_out` (queuing the signals of the changes a drain took, in
/// its transaction) and the [`StreamEventStore`].
macro_rules! impl_stream_event_store {
    ($store:ident, $db:ty, $claim:expr) => {
        impl $store {
            /// Queues, inside `tx`, each signal of `changes` for every live stream that asked
            /// for its event and has not had its subject removed.
            pub(super) async fn fan_out(
                tx: &mut sqlx::Transaction<'_, $db>,
                changes: &[Change],
                now_ms: i64,
            ) -> Result<FanOut, StoreError> {
                let signals: Vec<Signal> = changes
                    .iter()
                    .flat_map(|change| Signal::of(change, now_ms))
                    .collect();
                let mut fan_out = FanOut::default();
                if signals.is_empty() {
                    return Ok(fan_out);
                }
                let streams = sqlx::query(LIVE_STREAMS).fetch_all(&mut **tx).await?;
                if streams.is_empty() {
                    return Ok(fan_out);
                }
                let mut excluded: HashSet<(String, String)> = HashSet::new();
                for row in sqlx::query(EXCLUSIONS).fetch_all(&mut **tx).await? {
                    excluded.insert((row.try_get("stream_id")?, row.try_get("subject_key")?));
                }
                let mut queued: HashMap<String, i64> = HashMap::new();
                for row in sqlx::query(QUEUED).fetch_all(&mut **tx).await? {
                    queued.insert(row.try_get("stream_id")?, row.try_get("queued")?);
                }
                for signal in &signals {
                    let uri = signal.kind.uri();
                    let key = signal.subject.key();
                    for stream in &streams {
                        let id: String = stream.try_get("id")?;
                        let delivered: String = stream.try_get("events_delivered")?;
                        if !delivered.split(' ').any(|event| event == uri) {
                            continue;
                        }
                        if let Some(key) = &key {
                            if excluded.contains(&(id.clone(), key.clone())) {
                                continue;
                            }
                        }
                        let depth = queued.entry(id.clone()).or_default();
                        if *depth >= MAX_QUEUED_PER_STREAM {
                            fan_out.dropped.push(id);
                            continue;
                        }
                        *depth += 1;
                        sqlx::query(INSERT)
                            .bind(&id)
                            .bind(jti())
                            .bind(signal.encode())
                            .bind(now_ms)
                            .execute(&mut **tx)
                            .await?;
                        fan_out.queued += 1;
                    }
                }
                Ok(fan_out)
            }
        }

        #[async_trait]
        impl StreamEventStore for $store {
            async fn queue_stream_event(
                &self,
                stream_id: &str,
                jti: &str,
                signal: &Signal,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let queued: i64 = sqlx::query_scalar(QUEUED_ONE)
                    .bind(stream_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if queued >= MAX_QUEUED_PER_STREAM {
                    return Ok(false);
                }
                sqlx::query(INSERT)
                    .bind(stream_id)
                    .bind(jti)
                    .bind(signal.encode())
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn claim_push_events(
                &self,
                now_ms: i64,
                lease_until_ms: i64,
                limit: u32,
            ) -> Result<Vec<QueuedEvent>, StoreError> {
                let rows = sqlx::query($claim)
                    .bind(now_ms)
                    .bind(lease_until_ms)
                    .bind(i64::from(limit))
                    .fetch_all(self.writer())
                    .await?;
                let mut events = rows
                    .iter()
                    .map(queued_event)
                    .collect::<Result<Vec<_>, _>>()?;
                events.sort_unstable_by_key(|event| event.id);
                Ok(events)
            }

            async fn forget_stream_event(&self, id: i64) -> Result<(), StoreError> {
                sqlx::query(FORGET).bind(id).execute(self.writer()).await?;
                Ok(())
            }

            async fn retry_stream_event(
                &self,
                id: i64,
                next_attempt_at_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(RETRY)
                    .bind(id)
                    .bind(next_attempt_at_ms)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn pending_stream_events(
                &self,
                stream_id: &str,
                limit: u32,
            ) -> Result<Vec<QueuedEvent>, StoreError> {
                let rows = sqlx::query(PENDING)
                    .bind(stream_id)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(queued_event).collect()
            }

            async fn acknowledge_stream_events(
                &self,
                stream_id: &str,
                jtis: &[String],
            ) -> Result<u64, StoreError> {
                if jtis.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.begin_write().await?;
                let mut acknowledged = 0;
                for jti in jtis {
                    acknowledged += sqlx::query(ACK)
                        .bind(stream_id)
                        .bind(jti)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(acknowledged)
            }

            async fn queue_depths(&self) -> Result<Vec<QueueDepth>, StoreError> {
                let rows = sqlx::query(DEPTHS).fetch_all(self.pool()).await?;
                rows.iter()
                    .map(|row| {
                        Ok(QueueDepth {
                            stream_id: row.try_get("stream_id")?,
                            queued: row.try_get("queued")?,
                            oldest_ms: row.try_get("oldest_ms")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

impl_stream_event_store!(PgStore, sqlx::Postgres, CLAIM_PG);
impl_stream_event_store!(SqliteStore, sqlx::Sqlite, CLAIM_SQLITE);
