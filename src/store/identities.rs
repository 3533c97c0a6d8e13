//! Communication identities as stored. PostgreSQL resolves an external-id conflict with
//! `ON CONFLICT`; SQLite, single-writer, looks first inside its write transaction.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::StoreError;
use super::postgres::PgStore;
use super::sqlite::{self, SqliteStore};

/// A communication identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub created_at_ms: i64,
    pub last_token_issued_at_ms: Option<i64>,
}

/// The outcome of creating an identity: created now, or already there under the same external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(IdentityRecord),
    Existing(IdentityRecord),
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates an identity; with an external id, returns the existing identity if there is one.
    async fn create_identity(
        &self,
        id: Uuid,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError>;
    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError>;
    /// Erases the identity, leaving a tombstone (a revocation fact); `false` if it did not exist.
    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError>;
}

/// `SELECT <identity columns> FROM identities WHERE <condition>`, as a literal.
macro_rules! select_identity_where {
    ($condition:literal) => {
        concat!(
            "SELECT id, external_id, created_at_ms, last_token_issued_at_ms ",
            "FROM identities WHERE ",
            $condition
        )
    };
}

/// PostgreSQL settles an external-id race in the statement itself.
const INSERT_PG: &str = "INSERT INTO identities (id, external_id, created_at_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (external_id) DO NOTHING \
     RETURNING id, external_id, created_at_ms, last_token_issued_at_ms";
/// SQLite looks for the external id first, inside the same write transaction.
const INSERT_SQLITE: &str = "INSERT INTO identities (id, external_id, created_at_ms) VALUES ($1, $2, $3) \
     RETURNING id, external_id, created_at_ms, last_token_issued_at_ms";
const DELETE: &str = "DELETE FROM identities WHERE id = $1";

fn pg_identity(row: &sqlx::postgres::PgRow) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_token_issued_at_ms: row.try_get("last_token_issued_at_ms")?,
    })
}

fn sqlite_identity(row: &sqlx::sqlite::SqliteRow) -> Result<IdentityRecord, StoreError> {
    Ok(IdentityRecord {
        id: sqlite::uuid_from(row, "id")?,
        external_id: row.try_get("external_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_token_issued_at_ms: row.try_get("last_token_issued_at_ms")?,
    })
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_identity(
        &self,
        id: Uuid,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError> {
        loop {
            let inserted = sqlx::query(INSERT_PG)
                .bind(id)
                .bind(external_id)
                .bind(now_ms)
                .fetch_optional(self.pool())
                .await?;
            if let Some(row) = inserted {
                return Ok(Created::New(pg_identity(&row)?));
            }
            // Only an external id can conflict: the identity already exists, return it.
            let existing = sqlx::query(select_identity_where!("external_id = $1"))
                .bind(external_id)
                .fetch_optional(self.pool())
                .await?;
            if let Some(row) = existing {
                return Ok(Created::Existing(pg_identity(&row)?));
            }
            // Deleted between the two statements: the external id is free again; try again.
        }
    }

    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError> {
        sqlx::query(select_identity_where!("id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| pg_identity(&row))
            .transpose()
    }

    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query(DELETE)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            PgStore::tombstone(&mut tx, id, now_ms).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

#[async_trait]
impl IdentityStore for SqliteStore {
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
                return Ok(Created::Existing(sqlite_identity(&row)?));
            }
        }
        let row = sqlx::query(INSERT_SQLITE)
            .bind(id.hyphenated())
            .bind(external_id)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
        let record = sqlite_identity(&row)?;
        tx.commit().await?;
        Ok(Created::New(record))
    }

    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError> {
        sqlx::query(select_identity_where!("id = $1"))
            .bind(id.hyphenated())
            .fetch_optional(self.pool())
            .await?
            .map(|row| sqlite_identity(&row))
            .transpose()
    }

    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(DELETE)
            .bind(id.hyphenated())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            SqliteStore::tombstone(&mut tx, id, now_ms).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
