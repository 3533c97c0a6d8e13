//! Refresh-token families as stored. A sign-in starts a family; a refresh is a few small steps
//! in one write transaction ([`RefreshSteps`]), with the presented token's family locked first
//! so the refreshes of a family and its revocation take turns: read what the presented token is,
//! then spend it and add its successor, or revoke its family, as the domain decides
//! (`users::refresh_rule`); the store knows nothing of the rule. Tokens are stored only as their
//! SHA-256. Both backends run the same SQL and code, stamped out by `impl_refresh_store!`.

use async_trait::async_trait;
use sqlx::Row;

use crate::vocabulary::{AppUserId, FamilyId, IdentityId};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// A presented token's session: its family, user and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub family: FamilyId,
    pub user: AppUserId,
    pub identity: IdentityId,
}

/// How long families and their tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLimits {
    /// A token unused for this long expires.
    pub idle_ms: i64,
    /// A family older than this expires, however active.
    pub absolute_ms: i64,
}

/// Where a session started, as the client gave it; shown to its user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOrigin {
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A presented token as stored, with what the rule needs of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredToken {
    pub session: Session,
    pub issued_at_ms: i64,
    /// When it was spent (rotated), if it was.
    pub spent_at_ms: Option<i64>,
    pub family_created_at_ms: i64,
    /// When its family was revoked (signed out, reused, erased), if it was.
    pub family_revoked_at_ms: Option<i64>,
    /// Whether the family's user still holds the family's identity.
    pub held: bool,
}

/// One refresh's writes, in a transaction that holds the presented token's family: dropped
/// without [`RefreshSteps::commit`], nothing changes.
#[async_trait]
pub trait RefreshSteps: Send {
    /// The presented token, if it exists.
    async fn presented(&mut self) -> Result<Option<StoredToken>, StoreError>;
    /// Spends the presented token and stores its successor in the same family.
    async fn rotate(
        &mut self,
        family: FamilyId,
        successor_hash: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Revokes the family.
    async fn revoke_family(&mut self, family: FamilyId, now_ms: i64) -> Result<(), StoreError>;
    /// Commits the steps; `Ok` means they are durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Starts a family for a sign-in, with its first token.
    async fn start_family(
        &self,
        family: FamilyId,
        user: AppUserId,
        identity: IdentityId,
        token_hash: &[u8],
        origin: &SessionOrigin,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Opens a refresh of the token with `token_hash`: a write transaction holding its family.
    async fn begin_refresh(&self, token_hash: &[u8]) -> Result<Box<dyn RefreshSteps>, StoreError>;
    /// The token with `token_hash`, if it exists, without changing anything.
    async fn find_presented(&self, token_hash: &[u8]) -> Result<Option<StoredToken>, StoreError>;
    /// Revokes a family (sign-out); `false` if it had ended already.
    async fn revoke_family(&self, family: FamilyId, now_ms: i64) -> Result<bool, StoreError>;
    /// Revokes every family of a user but `keep` (a password changed from that session); how
    /// many were live.
    async fn revoke_other_families(
        &self,
        user: AppUserId,
        keep: FamilyId,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Revokes every family of a user (sign-out everywhere); how many were live.
    async fn revoke_user_families(&self, user: AppUserId, now_ms: i64) -> Result<u64, StoreError>;
    /// Forgets families that have ended (revoked, or older than `created_before_ms`), with
    /// their tokens; how many.
    async fn purge_ended_families(&self, created_before_ms: i64) -> Result<u64, StoreError>;
}

const INSERT_FAMILY: &str = "INSERT INTO refresh_families \
     (id, user_id, identity_id, created_at_ms, client_address, user_agent) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const TOUCH_FAMILY: &str = "UPDATE refresh_families SET last_refreshed_at_ms = $2 WHERE id = $1";
const INSERT_TOKEN: &str =
    "INSERT INTO refresh_tokens (hash, family_id, issued_at_ms) VALUES ($1, $2, $3)";
/// Spends a token once.
const SPEND: &str =
    "UPDATE refresh_tokens SET spent_at_ms = $2 WHERE hash = $1 AND spent_at_ms IS NULL";
/// A token with its family's state and whether the family's user still holds its identity.
const SELECT_PRESENTED: &str = "SELECT t.family_id, f.user_id, f.identity_id, t.issued_at_ms, \
       t.spent_at_ms, f.created_at_ms AS family_created_at_ms, \
       f.revoked_at_ms AS family_revoked_at_ms, m.user_id AS holder FROM refresh_tokens t \
     JOIN refresh_families f ON f.id = t.family_id \
     LEFT JOIN app_user_identities m ON m.user_id = f.user_id AND m.identity_id = f.identity_id \
     WHERE t.hash = $1";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_families SET revoked_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL";
const REVOKE_OTHER_FAMILIES: &str = "UPDATE refresh_families SET revoked_at_ms = $3 \
     WHERE user_id = $1 AND id <> $2 AND revoked_at_ms IS NULL";
const REVOKE_USER_FAMILIES: &str =
    "UPDATE refresh_families SET revoked_at_ms = $2 WHERE user_id = $1 AND revoked_at_ms IS NULL";

/// Tokens go with their family (`ON DELETE CASCADE`).
const PURGE_ENDED: &str =
    "DELETE FROM refresh_families WHERE revoked_at_ms IS NOT NULL OR created_at_ms <= $1";

/// A [`StoredToken`] from a row of [`SELECT_PRESENTED`].
fn stored_token<S: SqlBackend>(
    row: &<S::Db as sqlx::Database>::Row,
) -> Result<StoredToken, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'r> i64: sqlx::Decode<'r, S::Db> + sqlx::Type<S::Db>,
    for<'r> Option<i64>: sqlx::Decode<'r, S::Db> + sqlx::Type<S::Db>,
{
    Ok(StoredToken {
        session: Session {
            family: S::uuid_col(row, "family_id")?,
            user: S::uuid_col(row, "user_id")?,
            identity: S::uuid_col(row, "identity_id")?,
        },
        issued_at_ms: row.try_get("issued_at_ms")?,
        spent_at_ms: row.try_get("spent_at_ms")?,
        family_created_at_ms: row.try_get("family_created_at_ms")?,
        family_revoked_at_ms: row.try_get("family_revoked_at_ms")?,
        held: S::uuid_col_opt::<AppUserId>(row, "holder")?.is_some(),
    })
}

macro_rules! impl_refresh_store {
    ($store:ident, $db:ty, $steps:ident) => {
        /// The steps of one refresh on this backend.
        struct $steps {
            tx: sqlx::Transaction<'static, $db>,
            token_hash: Vec<u8>,
        }

        #[async_trait]
        impl RefreshSteps for $steps {
            async fn presented(&mut self) -> Result<Option<StoredToken>, StoreError> {
                let row = sqlx::query(SELECT_PRESENTED)
                    .bind(&self.token_hash)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.map(|row| stored_token::<$store>(&row)).transpose()
            }

            async fn rotate(
                &mut self,
                family: FamilyId,
                successor_hash: &[u8],
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let spent = sqlx::query(SPEND)
                    .bind(&self.token_hash)
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                if spent != 1 {
                    return Err(StoreError::Corrupt(
                        "a refresh token was spent under its family's lock".into(),
                    ));
                }
                sqlx::query(INSERT_TOKEN)
                    .bind(successor_hash)
                    .bind($store::uuid_param(family))
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(TOUCH_FAMILY)
                    .bind($store::uuid_param(family))
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn revoke_family(
                &mut self,
                family: FamilyId,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(REVOKE_FAMILY)
                    .bind($store::uuid_param(family))
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn commit(self: Box<Self>) -> Result<(), StoreError> {
                Ok(self.tx.commit().await?)
            }
        }

        #[async_trait]
        impl RefreshStore for $store {
            async fn start_family(
                &self,
                family: FamilyId,
                user: AppUserId,
                identity: IdentityId,
                token_hash: &[u8],
                origin: &SessionOrigin,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(INSERT_FAMILY)
                    .bind($store::uuid_param(family))
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(identity))
                    .bind(now_ms)
                    .bind(origin.client_address.as_deref())
                    .bind(origin.user_agent.as_deref())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_TOKEN)
                    .bind(token_hash)
                    .bind($store::uuid_param(family))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn begin_refresh(
                &self,
                token_hash: &[u8],
            ) -> Result<Box<dyn RefreshSteps>, StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_family_of(&mut tx, token_hash).await?;
                Ok(Box::new($steps {
                    tx,
                    token_hash: token_hash.to_vec(),
                }))
            }

            async fn find_presented(
                &self,
                token_hash: &[u8],
            ) -> Result<Option<StoredToken>, StoreError> {
                let row = sqlx::query(SELECT_PRESENTED)
                    .bind(token_hash)
                    .fetch_optional(self.pool())
                    .await?;
                row.map(|row| stored_token::<$store>(&row)).transpose()
            }

            async fn revoke_family(
                &self,
                family: FamilyId,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(REVOKE_FAMILY)
                    .bind($store::uuid_param(family))
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn revoke_other_families(
                &self,
                user: AppUserId,
                keep: FamilyId,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(REVOKE_OTHER_FAMILIES)
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(keep))
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }

            async fn revoke_user_families(
                &self,
                user: AppUserId,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(REVOKE_USER_FAMILIES)
                    .bind($store::uuid_param(user))
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }

            async fn purge_ended_families(
                &self,
                created_before_ms: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(PURGE_ENDED)
                    .bind(created_before_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }
        }
    };
}

impl_refresh_store!(PgStore, sqlx::Postgres, PgRefreshSteps);
impl_refresh_store!(SqliteStore, sqlx::Sqlite, SqliteRefreshSteps);
