//! Revocation facts as stored: each identity's token cut-off (a column of `identities`) and the
//! tombstones deleted identities leave until every token they could have had has expired.
//! Both backends run the same SQL and code, stamped out by `impl_revocation_store!`; each fact
//! goes to the outbox in the writing transaction.

use crate::vocabulary::IdentityId;
use async_trait::async_trait;
use sqlx::{Postgres, Row, Sqlite, Transaction};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::revocation::Revocation;
use crate::vocabulary::Change;

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Revokes the identity's tokens issued at or before `before_ms` (never moving an earlier
    /// cut-off back); `false` if it does not exist.
    async fn revoke_tokens(&self, id: IdentityId, before_ms: i64) -> Result<bool, StoreError>;
    /// Revocations and deletions that happened after `since_ms`.
    async fn revocations_since(&self, since_ms: i64) -> Result<Vec<Revocation>, StoreError>;
    /// Forgets tombstones older than `before_ms`; returns how many.
    async fn purge_tombstones(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const REVOKE_TOKENS: &str = "UPDATE identities SET tokens_revoked_before_ms = \
     CASE WHEN tokens_revoked_before_ms > $2 THEN tokens_revoked_before_ms ELSE $2 END \
     WHERE id = $1";
/// Cut-offs and tombstones in one list; `deleted` tells them apart.
const SINCE: &str = "SELECT id, tokens_revoked_before_ms AS before_ms, 0 AS deleted FROM identities \
       WHERE tokens_revoked_before_ms > $1 \
     UNION ALL \
     SELECT id, deleted_at_ms, 1 FROM identity_tombstones WHERE deleted_at_ms > $1";
const INSERT_TOMBSTONE: &str =
    "INSERT INTO identity_tombstones (id, deleted_at_ms) VALUES ($1, $2)";
const PURGE_TOMBSTONES: &str = "DELETE FROM identity_tombstones WHERE deleted_at_ms < $1";

/// A row of [`SINCE`].
fn fact(id: IdentityId, deleted: i32, before_ms: i64) -> Revocation {
    if deleted == 1 {
        Revocation::Deleted { id }
    } else {
        Revocation::Revoked { id, before_ms }
    }
}

macro_rules! impl_revocation_store {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Leaves the tombstone of a deleted identity, inside the deleting transaction, and
            /// announces the deletion.
            pub(super) async fn tombstone(
                tx: &mut Transaction<'_, $db>,
                id: IdentityId,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT_TOMBSTONE)
                    .bind($store::uuid_param(id))
                    .bind(now_ms)
                    .execute(&mut **tx)
                    .await?;
                $store::enqueue(tx, Change::Revocation(Revocation::Deleted { id })).await
            }
        }

        #[async_trait]
        impl RevocationStore for $store {
            async fn revoke_tokens(
                &self,
                id: IdentityId,
                before_ms: i64,
            ) -> Result<bool, StoreError> {
                let revoked = self
                    .write(move |tx| {
                        Box::pin(async move {
                            let revoked = sqlx::query(REVOKE_TOKENS)
                                .bind($store::uuid_param(id))
                                .bind(before_ms)
                                .execute(&mut **tx)
                                .await?
                                .rows_affected()
                                > 0;
                            if revoked {
                                let fact = Revocation::Revoked { id, before_ms };
                                $store::enqueue(tx, Change::Revocation(fact)).await?;
                            }
                            Ok(revoked)
                        })
                    })
                    .await?;
                self.committed();
                Ok(revoked)
            }

            async fn revocations_since(
                &self,
                since_ms: i64,
            ) -> Result<Vec<Revocation>, StoreError> {
                let rows = sqlx::query(SINCE)
                    .bind(since_ms)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(fact(
                            $store::uuid_col(row, "id")?,
                            row.try_get("deleted")?,
                            row.try_get("before_ms")?,
                        ))
                    })
                    .collect()
            }

            async fn purge_tombstones(&self, before_ms: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query(PURGE_TOMBSTONES)
                    .bind(before_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }
        }
    };
}

impl_revocation_store!(PgStore, Postgres);
impl_revocation_store!(SqliteStore, Sqlite);
