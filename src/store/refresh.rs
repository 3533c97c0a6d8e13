//! Refresh-token families. A sign-in starts a family; each refresh spends the presented token
//! and adds its successor, atomically, so of many concurrent uses exactly one wins; the caller
//! commits that rotation once it holds the access token that goes with it. A spent token
//! presented to refresh revokes its family, committed although the request fails; what else
//! reuse ends is the domain's to decide (`users::sessions`), with [`RefreshStore::presented`]
//! telling a live token from a spent one. Tokens are stored only as their SHA-256. Both backends
//! run the same SQL and code, stamped out by `impl_refresh_store!`.

use async_trait::async_trait;
use sqlx::Row;

use crate::vocabulary::{AppUserId, FamilyId, IdentityId};

use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{StoreError, Uncommitted};

/// A presented token's session: its family, user and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub family: FamilyId,
    pub user: AppUserId,
    pub identity: IdentityId,
}

/// What a presented refresh token is, without changing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Unspent, in a live family whose user still holds its identity, and not idle too long.
    Live(Session),
    /// Spent already, in a family that has not ended.
    Spent(Session),
    /// Unknown, or of a family that has ended (signed out, revoked, past its lifetime).
    Invalid,
}

/// How long families and their tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLimits {
    /// A token unused for this long expires.
    pub idle_ms: i64,
    /// A family older than this expires, however active.
    pub absolute_ms: i64,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The token was live: it is spent and its successor stored, once `rotation` is committed
    /// (dropped, nothing changes).
    Rotated {
        user: AppUserId,
        identity: IdentityId,
        rotation: Uncommitted,
    },
    /// The token was already spent and its family was live: the family is now revoked.
    Reused {
        user: AppUserId,
        identity: IdentityId,
    },
    /// Unknown, signed out, erased, unlinked from its identity, or past its idle or absolute
    /// lifetime. (A spent token of a family that has ended is this too: replaying it harms no
    /// one.)
    Invalid,
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
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Spends `token_hash` and stores `successor_hash` in its family, if it is live, to be
    /// committed by the caller; a reuse is committed at once.
    async fn rotate(
        &self,
        token_hash: &[u8],
        successor_hash: &[u8],
        limits: RefreshLimits,
        now_ms: i64,
    ) -> Result<Rotation, StoreError>;
    /// What a presented token is, without changing anything.
    async fn presented(
        &self,
        token_hash: &[u8],
        limits: RefreshLimits,
        now_ms: i64,
    ) -> Result<Presented, StoreError>;
    /// Revokes a family (sign-out); `false` if it had ended already.
    async fn revoke_family(&self, family: FamilyId, now_ms: i64) -> Result<bool, StoreError>;
    /// Revokes every family of a user (sign-out everywhere); how many were live.
    async fn revoke_user_families(&self, user: AppUserId, now_ms: i64) -> Result<u64, StoreError>;
    /// Forgets families that have ended (revoked, or older than `created_before_ms`), with
    /// their tokens; how many.
    async fn purge_ended_families(&self, created_before_ms: i64) -> Result<u64, StoreError>;
}

const INSERT_FAMILY: &str = "INSERT INTO refresh_families (id, user_id, identity_id, created_at_ms) \
     VALUES ($1, $2, $3, $4)";
const INSERT_TOKEN: &str =
    "INSERT INTO refresh_tokens (hash, family_id, issued_at_ms) VALUES ($1, $2, $3)";
/// Spends a token once: of concurrent statements, one matches; the others find it spent.
const SPEND: &str = "UPDATE refresh_tokens SET spent_at_ms = $2 \
     WHERE hash = $1 AND spent_at_ms IS NULL RETURNING family_id";
/// A token of a live family whose user still holds its identity (`$2` idle, `$3` absolute
/// cut-offs).
const SELECT_LIVE: &str = "SELECT t.family_id, f.user_id, f.identity_id FROM refresh_tokens t \
     JOIN refresh_families f ON f.id = t.family_id \
     JOIN app_user_identities m ON m.user_id = f.user_id AND m.identity_id = f.identity_id \
     WHERE t.hash = $1 AND f.revoked_at_ms IS NULL \
       AND t.issued_at_ms > $2 AND f.created_at_ms > $3";
/// The family of a (spent) token, if that family is still live (`$2` absolute cut-off).
const SELECT_LIVE_FAMILY_OF: &str = "SELECT t.family_id, f.user_id, f.identity_id FROM refresh_tokens t \
     JOIN refresh_families f ON f.id = t.family_id \
     WHERE t.hash = $1 AND f.revoked_at_ms IS NULL AND f.created_at_ms > $2";
/// A token of a family that has not ended (`$2` absolute cut-off), spent or not, with what
/// tells a live one: when it was issued and whether the family's user still holds its identity.
const SELECT_PRESENTED: &str = "SELECT t.family_id, f.user_id, f.identity_id, t.issued_at_ms, \
       t.spent_at_ms, m.user_id AS holder FROM refresh_tokens t \
     JOIN refresh_families f ON f.id = t.family_id \
     LEFT JOIN app_user_identities m ON m.user_id = f.user_id AND m.identity_id = f.identity_id \
     WHERE t.hash = $1 AND f.revoked_at_ms IS NULL AND f.created_at_ms > $2";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_families SET revoked_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL";
const REVOKE_USER_FAMILIES: &str =
    "UPDATE refresh_families SET revoked_at_ms = $2 WHERE user_id = $1 AND revoked_at_ms IS NULL";

/// Tokens go with their family (`ON DELETE CASCADE`).
const PURGE_ENDED: &str =
    "DELETE FROM refresh_families WHERE revoked_at_ms IS NOT NULL OR created_at_ms <= $1";

macro_rules! impl_refresh_store {
    ($store:ident) => {
        #[async_trait]
        impl RefreshStore for $store {
            async fn start_family(
                &self,
                family: FamilyId,
                user: AppUserId,
                identity: IdentityId,
                token_hash: &[u8],
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(INSERT_FAMILY)
                    .bind($store::uuid_param(family))
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(identity))
                    .bind(now_ms)
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

            async fn rotate(
                &self,
                token_hash: &[u8],
                successor_hash: &[u8],
                limits: RefreshLimits,
                now_ms: i64,
            ) -> Result<Rotation, StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_family_of(&mut tx, token_hash).await?;
                let spent = sqlx::query(SPEND)
                    .bind(token_hash)
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                if spent.is_none() {
                    // Spent before, in a live family: reuse revokes the family, committed now.
                    let Some(row) = sqlx::query(SELECT_LIVE_FAMILY_OF)
                        .bind(token_hash)
                        .bind(now_ms - limits.absolute_ms)
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        return Ok(Rotation::Invalid);
                    };
                    sqlx::query(REVOKE_FAMILY)
                        .bind($store::uuid_param($store::uuid_col::<FamilyId>(
                            &row,
                            "family_id",
                        )?))
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(Rotation::Reused {
                        user: $store::uuid_col(&row, "user_id")?,
                        identity: $store::uuid_col(&row, "identity_id")?,
                    });
                }
                let live = sqlx::query(SELECT_LIVE)
                    .bind(token_hash)
                    .bind(now_ms - limits.idle_ms)
                    .bind(now_ms - limits.absolute_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = live else {
                    // Signed out or expired: nothing changes (the spend rolls back).
                    return Ok(Rotation::Invalid);
                };
                sqlx::query(INSERT_TOKEN)
                    .bind(successor_hash)
                    .bind($store::uuid_param($store::uuid_col::<FamilyId>(
                        &row,
                        "family_id",
                    )?))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                Ok(Rotation::Rotated {
                    user: $store::uuid_col(&row, "user_id")?,
                    identity: $store::uuid_col(&row, "identity_id")?,
                    rotation: Uncommitted::new(tx),
                })
            }

            async fn presented(
                &self,
                token_hash: &[u8],
                limits: RefreshLimits,
                now_ms: i64,
            ) -> Result<Presented, StoreError> {
                let Some(row) = sqlx::query(SELECT_PRESENTED)
                    .bind(token_hash)
                    .bind(now_ms - limits.absolute_ms)
                    .fetch_optional(self.pool())
                    .await?
                else {
                    return Ok(Presented::Invalid);
                };
                let session = Session {
                    family: $store::uuid_col(&row, "family_id")?,
                    user: $store::uuid_col(&row, "user_id")?,
                    identity: $store::uuid_col(&row, "identity_id")?,
                };
                let spent: Option<i64> = row.try_get("spent_at_ms")?;
                let issued_at_ms: i64 = row.try_get("issued_at_ms")?;
                let held = $store::uuid_col_opt::<AppUserId>(&row, "holder")?.is_some();
                Ok(if spent.is_some() {
                    Presented::Spent(session)
                } else if held && issued_at_ms > now_ms - limits.idle_ms {
                    Presented::Live(session)
                } else {
                    Presented::Invalid
                })
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

impl_refresh_store!(PgStore);
impl_refresh_store!(SqliteStore);
