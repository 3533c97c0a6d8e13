//! Built-in accounts' passwords after they are created: a new password hash set directly, and
//! one-time reset tokens, stored only as their SHA-256, each spent at most once and only before
//! it expires. Both backends run the same SQL and code, stamped out by
//! `impl_password_reset_store!`.

use async_trait::async_trait;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::{AppUserId, Change};

#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Replaces a built-in account's password hash at `now_ms`, and announces it (a
    /// credential-change event); `false` if the user has no account.
    async fn set_password_hash(
        &self,
        id: AppUserId,
        hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Stores a reset token for the user, valid until `expires_at_ms`; forgets tokens past
    /// their expiry first.
    async fn create_reset_token(
        &self,
        token_hash: &[u8],
        user: AppUserId,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The user of an unspent, unexpired reset token, without spending it.
    async fn find_reset_token(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<AppUserId>, StoreError>;
    /// Spends a reset token: its user if it was unspent and unexpired, at once (of concurrent
    /// redemptions exactly one wins).
    async fn spend_reset_token(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<AppUserId>, StoreError>;
}

const SET_HASH: &str =
    "UPDATE app_users SET password_hash = $2 WHERE id = $1 AND password_hash IS NOT NULL";
const FORGET_EXPIRED: &str = "DELETE FROM password_reset_tokens WHERE expires_at_ms <= $1";
const INSERT: &str =
    "INSERT INTO password_reset_tokens (hash, user_id, expires_at_ms) VALUES ($1, $2, $3)";
const FIND: &str = "SELECT user_id FROM password_reset_tokens \
     WHERE hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2";
const SPEND: &str = "UPDATE password_reset_tokens SET used_at_ms = $2 \
     WHERE hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2 RETURNING user_id";

macro_rules! impl_password_reset_store {
    ($store:ident) => {
        #[async_trait]
        impl PasswordResetStore for $store {
            async fn set_password_hash(
                &self,
                id: AppUserId,
                hash: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let set = sqlx::query(SET_HASH)
                    .bind($store::uuid_param(id))
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if set {
                    let change = Change::PasswordChanged {
                        user: id,
                        at_ms: now_ms,
                    };
                    $store::enqueue(&mut tx, change).await?;
                }
                tx.commit().await?;
                if set {
                    self.committed();
                }
                Ok(set)
            }

            async fn create_reset_token(
                &self,
                token_hash: &[u8],
                user: AppUserId,
                expires_at_ms: i64,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(FORGET_EXPIRED)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT)
                    .bind(token_hash)
                    .bind($store::uuid_param(user))
                    .bind(expires_at_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_reset_token(
                &self,
                token_hash: &[u8],
                now_ms: i64,
            ) -> Result<Option<AppUserId>, StoreError> {
                sqlx::query(FIND)
                    .bind(token_hash)
                    .bind(now_ms)
                    .fetch_optional(self.pool())
                    .await?
                    .map(|row| $store::uuid_col(&row, "user_id"))
                    .transpose()
            }

            async fn spend_reset_token(
                &self,
                token_hash: &[u8],
                now_ms: i64,
            ) -> Result<Option<AppUserId>, StoreError> {
                sqlx::query(SPEND)
                    .bind(token_hash)
                    .bind(now_ms)
                    .fetch_optional(self.writer())
                    .await?
                    .map(|row| $store::uuid_col(&row, "user_id"))
                    .transpose()
            }
        }
    };
}

impl_password_reset_store!(PgStore);
impl_password_reset_store!(SqliteStore);
