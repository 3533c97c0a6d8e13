//! Communication identities as stored. Creation differs by backend, in one place each:
//! PostgreSQL resolves an external-id conflict with `ON CONFLICT`; SQLite, single-writer, looks
//! first inside its write transaction. New identities without an external id are inserted in
//! groups on both. The rest is stamped out once by `impl_identity_store!`.

use crate::vocabulary::IdentityId;
use async_trait::async_trait;
use sqlx::{Postgres, Row, Sqlite, Transaction};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// A communication identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: IdentityId,
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

/// The outcome of adopting an identity with a fixed id (an organisation user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopted {
    New,
    Existing,
    /// Deleted, and its tombstone still kept: it may not come back yet.
    Deleted,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates an identity; with an external id, returns the existing identity if there is one.
    async fn create_identity(
        &self,
        id: IdentityId,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError>;
    /// Creates the identity with this id unless it exists, or was deleted so recently that its
    /// tombstone is still kept (until every token it had has expired).
    async fn adopt_identity(&self, id: IdentityId, now_ms: i64) -> Result<Adopted, StoreError>;
    async fn find_identity(&self, id: IdentityId) -> Result<Option<IdentityRecord>, StoreError>;
    /// Erases the identity, leaving a tombstone (a revocation fact); `false` if it did not exist.
    async fn delete_identity(&self, id: IdentityId, now_ms: i64) -> Result<bool, StoreError>;
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
     ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING \
     RETURNING id, external_id, created_at_ms, last_token_issued_at_ms";
/// SQLite looks for the external id first, inside the same write transaction.
const INSERT_SQLITE: &str = "INSERT INTO identities (id, external_id, created_at_ms) VALUES ($1, $2, $3) \
     RETURNING id, external_id, created_at_ms, last_token_issued_at_ms";
const DELETE: &str = "DELETE FROM identities WHERE id = $1";
const TOMBSTONED: &str = "SELECT 1 FROM identity_tombstones WHERE id = $1";
const ADOPT: &str =
    "INSERT INTO identities (id, created_at_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";

/// An [`IdentityRecord`] from a row of `select_identity_where!` or `RETURNING` (the same
/// columns), with the backend's UUID column reader.
macro_rules! identity_from_row {
    ($store:ident, $row:expr) => {
        IdentityRecord {
            id: $store::uuid_col($row, "id")?,
            external_id: $row.try_get("external_id")?,
            created_at_ms: $row.try_get("created_at_ms")?,
            last_token_issued_at_ms: $row.try_get("last_token_issued_at_ms")?,
        }
    };
}

impl PgStore {
    async fn insert_identity(
        &self,
        id: IdentityId,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError> {
        let Some(external_id) = external_id else {
            // Nothing can conflict: inserted with the other new identities queued beside it.
            self.new_identities.insert(id, now_ms).await?;
            return Ok(Created::New(IdentityRecord {
                id,
                external_id: None,
                created_at_ms: now_ms,
                last_token_issued_at_ms: None,
            }));
        };
        loop {
            let inserted = sqlx::query(INSERT_PG)
                .bind(id.uuid())
                .bind(external_id)
                .bind(now_ms)
                .fetch_optional(self.pool())
                .await?;
            if let Some(row) = inserted {
                return Ok(Created::New(identity_from_row!(PgStore, &row)));
            }
            // Only an external id can conflict: the identity already exists, return it.
            let existing = sqlx::query(select_identity_where!("external_id = $1"))
                .bind(external_id)
                .fetch_optional(self.pool())
                .await?;
            if let Some(row) = existing {
                return Ok(Created::Existing(identity_from_row!(PgStore, &row)));
            }
            // Deleted between the two statements: the external id is free again; try again.
        }
    }
}

impl SqliteStore {
    async fn insert_identity(
        &self,
        id: IdentityId,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError> {
        let Some(external_id) = external_id.map(str::to_owned) else {
            // Nothing can conflict: inserted with the other new identities of its group.
            self.group.insert_identity(id, now_ms).await?;
            return Ok(Created::New(IdentityRecord {
                id,
                external_id: None,
                created_at_ms: now_ms,
                last_token_issued_at_ms: None,
            }));
        };
        self.write(move |tx| {
            Box::pin(async move {
                let existing = sqlx::query(select_identity_where!("external_id = $1"))
                    .bind(&external_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some(row) = existing {
                    return Ok(Created::Existing(identity_from_row!(SqliteStore, &row)));
                }
                let row = sqlx::query(INSERT_SQLITE)
                    .bind(id.uuid().hyphenated())
                    .bind(external_id)
                    .bind(now_ms)
                    .fetch_one(&mut **tx)
                    .await?;
                Ok(Created::New(identity_from_row!(SqliteStore, &row)))
            })
        })
        .await
    }
}

macro_rules! impl_identity_store {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Deletes an identity inside `tx`, leaving its tombstone; `false` if it did not
            /// exist.
            pub(super) async fn delete_identity_in(
                tx: &mut Transaction<'_, $db>,
                id: IdentityId,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let deleted = sqlx::query(DELETE)
                    .bind($store::uuid_param(id))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                    > 0;
                if deleted {
                    $store::tombstone(tx, id, now_ms).await?;
                }
                Ok(deleted)
            }
        }

        #[async_trait]
        impl IdentityStore for $store {
            async fn create_identity(
                &self,
                id: IdentityId,
                external_id: Option<&str>,
                now_ms: i64,
            ) -> Result<Created, StoreError> {
                self.insert_identity(id, external_id, now_ms).await
            }

            async fn adopt_identity(
                &self,
                id: IdentityId,
                now_ms: i64,
            ) -> Result<Adopted, StoreError> {
                self.write(move |tx| {
                    Box::pin(async move {
                        let inserted = sqlx::query(ADOPT)
                            .bind($store::uuid_param(id))
                            .bind(now_ms)
                            .execute(&mut **tx)
                            .await?
                            .rows_affected();
                        // The tombstone is looked for after the insert, so a deletion that
                        // commits meanwhile (PostgreSQL reads committed rows) is seen too: what it
                        // erased must not come back beside its tombstone.
                        let tombstoned = sqlx::query(TOMBSTONED)
                            .bind($store::uuid_param(id))
                            .fetch_optional(&mut **tx)
                            .await?
                            .is_some();
                        if tombstoned {
                            sqlx::query(DELETE)
                                .bind($store::uuid_param(id))
                                .execute(&mut **tx)
                                .await?;
                            return Ok(Adopted::Deleted);
                        }
                        Ok(if inserted > 0 {
                            Adopted::New
                        } else {
                            Adopted::Existing
                        })
                    })
                })
                .await
            }

            async fn find_identity(
                &self,
                id: IdentityId,
            ) -> Result<Option<IdentityRecord>, StoreError> {
                let row = sqlx::query(select_identity_where!("id = $1"))
                    .bind($store::uuid_param(id))
                    .fetch_optional(self.pool())
                    .await?;
                Ok(match row {
                    Some(row) => Some(identity_from_row!($store, &row)),
                    None => None,
                })
            }

            async fn delete_identity(
                &self,
                id: IdentityId,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let deleted = self
                    .write(move |tx| Box::pin($store::delete_identity_in(tx, id, now_ms)))
                    .await?;
                if deleted {
                    self.committed();
                }
                Ok(deleted)
            }
        }
    };
}

impl_identity_store!(PgStore, Postgres);
impl_identity_store!(SqliteStore, Sqlite);
