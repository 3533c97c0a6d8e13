//! Event streams as stored: each receiver's configuration (as JSON, its authorization header
//! sealed apart), its status, and the subjects its receiver removed from it (a stream carries every subject
//! but those). A stream is found only with
//! its owner (who created it), so no caller reaches another's. Both backends run the same SQL,
//! stamped out by `impl_stream_store!`.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// A stream, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub id: String,
    pub owner: String,
    /// The receiver-supplied configuration, JSON.
    pub config: String,
    pub authorization_sealed: Option<Vec<u8>>,
    /// `push` or `poll`.
    pub method: String,
    /// Event type URIs, space-separated.
    pub events_delivered: String,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub failing_since_ms: Option<i64>,
}

#[async_trait]
pub trait StreamStore: Send + Sync {
    async fn create_stream(&self, stream: &StreamRecord) -> Result<(), StoreError>;
    /// The streams `owner` created, oldest first.
    async fn streams_of(&self, owner: &str) -> Result<Vec<StreamRecord>, StoreError>;
    /// A stream, with its owner; `None` also when another owns it.
    async fn find_stream(&self, id: &str, owner: &str) -> Result<Option<StreamRecord>, StoreError>;
    /// A stream whoever owns it (for delivery).
    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>, StoreError>;
    /// Replaces a stream's configuration (config, authorization, method, events delivered);
    /// `false` if gone.
    async fn update_stream(&self, stream: &StreamRecord) -> Result<bool, StoreError>;
    /// Sets the status; a disabled stream's queued events are dropped. `false` if gone.
    async fn set_stream_status(
        &self,
        id: &str,
        status: &str,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes the stream, its exclusions and its queued events; `false` if gone.
    async fn delete_stream(&self, id: &str, owner: &str) -> Result<bool, StoreError>;
    /// Removes a subject from the stream: its events are no longer queued there.
    async fn exclude_stream_subject(
        &self,
        id: &str,
        key: &str,
        subject: &str,
    ) -> Result<(), StoreError>;
    /// Adds a removed subject back; `false` if it was not removed.
    async fn include_stream_subject(&self, id: &str, key: &str) -> Result<bool, StoreError>;
    /// Every stream's sealed authorization header, for re-sealing under a new master key.
    async fn sealed_authorizations(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Replaces sealed authorization headers (stream, old, new) provided none changed since
    /// read; `false` (nothing written) otherwise.
    async fn reseal_authorizations(
        &self,
        sealed: &[(String, Vec<u8>, Vec<u8>)],
    ) -> Result<bool, StoreError>;
    /// Records a failed delivery (the first since a success sets `failing_since_ms`), or a
    /// success (clears it).
    async fn note_delivery(&self, id: &str, failed_at_ms: Option<i64>) -> Result<(), StoreError>;
}

macro_rules! select_streams {
    ($filter:literal) => {
        concat!(
            "SELECT id, owner, config, authorization_sealed, method, events_delivered, status, \
             reason, created_at_ms, updated_at_ms, failing_since_ms FROM event_streams ",
            $filter
        )
    };
}
const OF_OWNER: &str = select_streams!("WHERE owner = $1 ORDER BY created_at_ms, id");
const OWNED: &str = select_streams!("WHERE id = $1 AND owner = $2");
const BY_ID: &str = select_streams!("WHERE id = $1");
const INSERT: &str = "INSERT INTO event_streams (id, owner, config, authorization_sealed, method, \
     events_delivered, status, reason, created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const UPDATE: &str = "UPDATE event_streams SET config = $2, authorization_sealed = $3, method = $4, \
     events_delivered = $5, updated_at_ms = $6 WHERE id = $1";
const SET_STATUS: &str =
    "UPDATE event_streams SET status = $2, reason = $3, updated_at_ms = $4 WHERE id = $1";
const DROP_EVENTS: &str = "DELETE FROM stream_events WHERE stream_id = $1";
const DELETE_EXCLUSIONS: &str = "DELETE FROM event_stream_exclusions WHERE stream_id = $1";
const DELETE: &str = "DELETE FROM event_streams WHERE id = $1 AND owner = $2";
const EXCLUDE: &str = "INSERT INTO event_stream_exclusions (stream_id, subject_key, subject) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const INCLUDE: &str =
    "DELETE FROM event_stream_exclusions WHERE stream_id = $1 AND subject_key = $2";
const SEALED: &str =
    "SELECT id, authorization_sealed FROM event_streams WHERE authorization_sealed IS NOT NULL";
const RESEAL: &str = "UPDATE event_streams SET authorization_sealed = $3 \
     WHERE id = $1 AND authorization_sealed = $2";
const FAILED: &str = "UPDATE event_streams SET failing_since_ms = \
     COALESCE(failing_since_ms, $2) WHERE id = $1";
const SUCCEEDED: &str = "UPDATE event_streams SET failing_since_ms = NULL \
     WHERE id = $1 AND failing_since_ms IS NOT NULL";

fn record<R: Row>(row: &R) -> Result<StreamRecord, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StreamRecord {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        config: row.try_get("config")?,
        authorization_sealed: row.try_get("authorization_sealed")?,
        method: row.try_get("method")?,
        events_delivered: row.try_get("events_delivered")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        failing_since_ms: row.try_get("failing_since_ms")?,
    })
}

macro_rules! impl_stream_store {
    ($store:ident) => {
        #[async_trait]
        impl StreamStore for $store {
            async fn create_stream(&self, s: &StreamRecord) -> Result<(), StoreError> {
                sqlx::query(INSERT)
                    .bind(&s.id)
                    .bind(&s.owner)
                    .bind(&s.config)
                    .bind(&s.authorization_sealed)
                    .bind(&s.method)
                    .bind(&s.events_delivered)
                    .bind(&s.status)
                    .bind(&s.reason)
                    .bind(s.created_at_ms)
                    .bind(s.updated_at_ms)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn streams_of(&self, owner: &str) -> Result<Vec<StreamRecord>, StoreError> {
                let rows = sqlx::query(OF_OWNER)
                    .bind(owner)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(record).collect()
            }

            async fn find_stream(
                &self,
                id: &str,
                owner: &str,
            ) -> Result<Option<StreamRecord>, StoreError> {
                sqlx::query(OWNED)
                    .bind(id)
                    .bind(owner)
                    .fetch_optional(self.pool())
                    .await?
                    .as_ref()
                    .map(record)
                    .transpose()
            }

            async fn stream(&self, id: &str) -> Result<Option<StreamRecord>, StoreError> {
                sqlx::query(BY_ID)
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?
                    .as_ref()
                    .map(record)
                    .transpose()
            }

            async fn update_stream(&self, s: &StreamRecord) -> Result<bool, StoreError> {
                Ok(sqlx::query(UPDATE)
                    .bind(&s.id)
                    .bind(&s.config)
                    .bind(&s.authorization_sealed)
                    .bind(&s.method)
                    .bind(&s.events_delivered)
                    .bind(s.updated_at_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn set_stream_status(
                &self,
                id: &str,
                status: &str,
                reason: Option<&str>,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(SET_STATUS)
                    .bind(id)
                    .bind(status)
                    .bind(reason)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if updated && status == "disabled" {
                    sqlx::query(DROP_EVENTS).bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_stream(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query(DELETE)
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if deleted {
                    for sql in [DROP_EVENTS, DELETE_EXCLUSIONS] {
                        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn exclude_stream_subject(
                &self,
                id: &str,
                key: &str,
                subject: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(EXCLUDE)
                    .bind(id)
                    .bind(key)
                    .bind(subject)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn include_stream_subject(
                &self,
                id: &str,
                key: &str,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(INCLUDE)
                    .bind(id)
                    .bind(key)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn sealed_authorizations(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
                let rows = sqlx::query(SEALED).fetch_all(self.pool()).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("authorization_sealed")?)))
                    .collect()
            }

            async fn reseal_authorizations(
                &self,
                sealed: &[(String, Vec<u8>, Vec<u8>)],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                for (id, old, new) in sealed {
                    let updated = sqlx::query(RESEAL)
                        .bind(id)
                        .bind(old)
                        .bind(new)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if updated != 1 {
                        return Ok(false);
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn note_delivery(
                &self,
                id: &str,
                failed_at_ms: Option<i64>,
            ) -> Result<(), StoreError> {
                let query = match failed_at_ms {
                    Some(at_ms) => sqlx::query(FAILED).bind(id).bind(at_ms),
                    None => sqlx::query(SUCCEEDED).bind(id),
                };
                query.execute(self.writer()).await?;
                Ok(())
            }
        }
    };
}

impl_stream_store!(PgStore);
impl_stream_store!(SqliteStore);
