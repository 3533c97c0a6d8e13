//! SQLite backend: the embedded default, one file under the data directory, one instance.
//! Writes take the lock up front (`BEGIN IMMEDIATE`) so concurrent writers queue on
//! `busy_timeout` instead of failing on a lock upgrade.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::{
    Backend, ChangeFeed, Created, IdentityRecord, KeyRecord, PoolOptions, RevocationRow, Store,
    StoreError, sql,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file a `sqlite:` URL names.
    pub async fn open(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a 201 or 204 survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            // Waiting on the write lock counts against the same budget as waiting for a connection.
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_dir(dir).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(SqliteStore { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

async fn create_dir(dir: &Path) -> Result<(), StoreError> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        StoreError::Config(format!(
            "cannot create database directory {}: {e}",
            dir.display()
        ))
    })
}

fn uuid_from(row: &SqliteRow, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    Uuid::try_parse(&text).map_err(|_| StoreError::Corrupt(format!("bad uuid in {column}")))
}

fn identity_from_row(row: &SqliteRow) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        id: uuid_from(row, "id")?,
        external_id: row.try_get("external_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_token_issued_at_ms: row.try_get("last_token_issued_at_ms")?,
    })
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        kid: row.try_get("kid")?,
        slot: row.try_get("slot")?,
        access_key_sealed: row.try_get("access_key_sealed")?,
        signing_key_sealed: row.try_get("signing_key_sealed")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::readiness)?;
        let missing = MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if missing == 0 {
            Ok(())
        } else {
            Err(StoreError::NotMigrated(format!(
                "{missing} migrations not applied"
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
        let mut tx = self.begin_write().await?;
        if let Some(external_id) = external_id {
            let existing = sqlx::query(select_identity_where!("external_id = $1"))
                .bind(external_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                return Ok(Created::Existing(identity_from_row(&row)?));
            }
        }
        let row = sqlx::query(
            "INSERT INTO identities (id, external_id, created_at_ms) VALUES ($1, $2, $3) \
             RETURNING id, external_id, created_at_ms, last_token_issued_at_ms",
        )
        .bind(id.hyphenated())
        .bind(external_id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let record = identity_from_row(&row)?;
        tx.commit().await?;
        Ok(Created::New(record))
    }

    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError> {
        sqlx::query(select_identity_where!("id = $1"))
            .bind(id.hyphenated())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| identity_from_row(&row))
            .transpose()
    }

    async fn revoke_tokens(&self, id: Uuid, before_ms: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query(sql::REVOKE_TOKENS)
            .bind(id.hyphenated())
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }

    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(sql::DELETE_IDENTITY)
            .bind(id.hyphenated())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            sqlx::query(sql::INSERT_TOMBSTONE)
                .bind(id.hyphenated())
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn record_tokens_issued(&self, issued: &[(Uuid, i64)]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (id, at_ms) in issued {
            sqlx::query(
                "UPDATE identities SET last_token_issued_at_ms = \
                 MAX(COALESCE(last_token_issued_at_ms, 0), $2) WHERE id = $1",
            )
            .bind(id.hyphenated())
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
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
                    uuid_from(row, "id")?,
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
        let mut tx = self.begin_write().await?;
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
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::RETIRE_ACTIVE_KEY)
            .bind(&key.slot)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        bind_key!(sqlx::query(sql::INSERT_KEY), key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// SQLite has no cross-process notifications; the periodic resync covers a second process.
    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }
}
