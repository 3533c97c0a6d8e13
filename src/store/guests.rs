//! Guest identities as stored: an identity with the instant its last token expires
//! (`guest_until_ms`: set at admission, pushed later by every token it is issued, in the issue
//! log's batches), and the purge of those whose tokens have all expired. A purged guest leaves a
//! tombstone and an outbox row like any deletion. Both backends run the same code, stamped out by
//! `impl_guest_store!`; on PostgreSQL concurrent purges skip each other's rows.

use async_trait::async_trait;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::IdentityId;

#[async_trait]
pub trait GuestStore: Send + Sync {
    /// Creates a guest identity whose tokens expire by `until_ms`.
    async fn create_guest(
        &self,
        id: IdentityId,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<(), StoreError>;
    /// Deletes up to `limit` guest identities whose last token expired before `before_ms`,
    /// oldest first; the ones deleted.
    async fn purge_guests(
        &self,
        before_ms: i64,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<IdentityId>, StoreError>;
}

const INSERT: &str =
    "INSERT INTO identities (id, created_at_ms, guest_until_ms) VALUES ($1, $2, $3)";
const EXPIRED_PG: &str = "SELECT id FROM identities WHERE guest_until_ms < $1 \
     ORDER BY guest_until_ms LIMIT $2 FOR UPDATE SKIP LOCKED";
/// SQLite's write transaction holds the whole database: nothing to skip.
const EXPIRED_SQLITE: &str = "SELECT id FROM identities WHERE guest_until_ms < $1 \
     ORDER BY guest_until_ms LIMIT $2";

macro_rules! impl_guest_store {
    ($store:ident, $expired:expr) => {
        #[async_trait]
        impl GuestStore for $store {
            async fn create_guest(
                &self,
                id: IdentityId,
                now_ms: i64,
                until_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT)
                    .bind($store::uuid_param(id))
                    .bind(now_ms)
                    .bind(until_ms)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn purge_guests(
                &self,
                before_ms: i64,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<IdentityId>, StoreError> {
                let mut tx = self.begin_write().await?;
                let expired: Vec<IdentityId> = sqlx::query($expired)
                    .bind(before_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| $store::uuid_col(row, "id"))
                    .collect::<Result<_, _>>()?;
                let mut purged = Vec::with_capacity(expired.len());
                for id in expired {
                    if $store::delete_identity_in(&mut tx, id, now_ms).await? {
                        purged.push(id);
                    }
                }
                tx.commit().await?;
                if !purged.is_empty() {
                    self.committed();
                }
                Ok(purged)
            }
        }
    };
}

impl_guest_store!(PgStore, EXPIRED_PG);
impl_guest_store!(SqliteStore, EXPIRED_SQLITE);
