//! PostgreSQL backend: the production store, shared by many stateless instances. Changes are
//! announced with `NOTIFY` inside the writing transaction, so they are delivered exactly when
//! they commit.

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::{
    Backend, ChangeFeed, Created, FeedEvent, IdentityRecord, KeyRecord, PoolOptions, RevocationRow,
    Store, StoreError, sql,
};
use crate::changes::Change;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The `LISTEN`/`NOTIFY` channel changes travel on.
const CHANNEL: &str = "callsign_changes";
/// Longest a single statement may run, in milliseconds.
const STATEMENT_TIMEOUT_MS: &str = "5000";

pub struct PgStore {
    pool: PgPool,
    /// For the change listener's own connection (it must not hold one of the pool's).
    url: String,
}

impl PgStore {
    /// Creates a lazy pool: nothing connects until the first query.
    pub fn open(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?
            // A statement on a dead or stuck connection fails instead of hanging the request.
            .options([("statement_timeout", STATEMENT_TIMEOUT_MS)]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(PgStore {
            pool,
            url: url.to_owned(),
        })
    }

    async fn notify(tx: &mut Transaction<'_, Postgres>, change: Change) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.encode())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

fn identity_from_row(row: &sqlx::postgres::PgRow) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_token_issued_at_ms: row.try_get("last_token_issued_at_ms")?,
    })
}

fn key_from_row(row: &sqlx::postgres::PgRow) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        kid: row.try_get("kid")?,
        slot: row.try_get("slot")?,
        access_key_sealed: row.try_get("access_key_sealed")?,
        signing_key_sealed: row.try_get("signing_key_sealed")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        let applied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM _sqlx_migrations WHERE success AND version = ANY($1)",
        )
        .bind(MIGRATOR.iter().map(|m| m.version).collect::<Vec<_>>())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::readiness)?;
        if applied as usize == MIGRATOR.iter().count() {
            Ok(())
        } else {
            Err(StoreError::NotMigrated(format!(
                "{applied} of {} migrations applied",
                MIGRATOR.iter().count()
            )))
        }
    }

    async fn setting_or_init(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        sqlx::query(sql::INIT_SETTING)
            .bind(name)
            .bind(proposed)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar(sql::SELECT_SETTING)
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_identity(
        &self,
        id: Uuid,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO identities (id, external_id, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (external_id) DO NOTHING \
             RETURNING id, external_id, created_at_ms, last_token_issued_at_ms",
        )
        .bind(id)
        .bind(external_id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(Created::New(identity_from_row(&row)?));
        }
        // Only an external id can conflict: the identity already exists, return it.
        let existing = sqlx::query(select_identity_where!("external_id = $1"))
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await?;
        match existing {
            Some(row) => Ok(Created::Existing(identity_from_row(&row)?)),
            // Deleted between the two statements: the external id is free again.
            None => Box::pin(self.create_identity(id, external_id, now_ms)).await,
        }
    }

    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError> {
        sqlx::query(select_identity_where!("id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| identity_from_row(&row))
            .transpose()
    }

    async fn revoke_tokens(&self, id: Uuid, before_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(sql::REVOKE_TOKENS)
            .bind(id)
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if revoked {
            Self::notify(&mut tx, Change::Revoked { id, before_ms }).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(sql::DELETE_IDENTITY)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            sqlx::query(sql::INSERT_TOMBSTONE)
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            Self::notify(&mut tx, Change::Deleted { id }).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn record_tokens_issued(&self, issued: &[(Uuid, i64)]) -> Result<(), StoreError> {
        let (ids, times): (Vec<Uuid>, Vec<i64>) = issued.iter().copied().unzip();
        sqlx::query(
            "UPDATE identities AS i SET last_token_issued_at_ms = \
               GREATEST(COALESCE(i.last_token_issued_at_ms, 0), u.at) \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, at) WHERE i.id = u.id",
        )
        .bind(ids)
        .bind(times)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revocations_since(&self, since_ms: i64) -> Result<Vec<RevocationRow>, StoreError> {
        let rows = sqlx::query(sql::REVOCATIONS_SINCE)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RevocationRow::from_columns(
                    row.try_get("id")?,
                    row.try_get("deleted")?,
                    row.try_get("before_ms")?,
                ))
            })
            .collect()
    }

    async fn purge_tombstones(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql::PURGE_TOMBSTONES)
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn active_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        sqlx::query(sql::SELECT_ACTIVE_KEYS)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn insert_initial_keys(&self, keys: &[KeyRecord]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            let inserted = bind_key!(sqlx::query(sql::INSERT_KEY_IF_FREE), key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_key(&self, key: &KeyRecord, now_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Concurrent regenerations queue here instead of colliding on the one-active-key index.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('callsign.keys'))")
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::RETIRE_ACTIVE_KEY)
            .bind(&key.slot)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        bind_key!(sqlx::query(sql::INSERT_KEY), key)
            .execute(&mut *tx)
            .await?;
        Self::notify(&mut tx, Change::KeysRotated).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgFeed { listener })))
    }
}

struct PgFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgFeed {
    async fn next(&mut self) -> FeedEvent {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notification)) => match Change::decode(notification.payload()) {
                    Some(change) => return FeedEvent::Change(change),
                    None => tracing::warn!("ignoring an unknown change notification"),
                },
                // The connection dropped: report a gap; the caller subscribes afresh.
                Ok(None) => return FeedEvent::Gap,
                Err(error) => {
                    tracing::warn!(%error, "change feed connection failed");
                    // Do not spin while the database is down.
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    return FeedEvent::Gap;
                }
            }
        }
    }
}
