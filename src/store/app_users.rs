//! App users as stored: built-in accounts (username and argon2id hash) and users of the app's
//! OpenID Connect provider (issuer and subject), and their erasure. Both backends run the same
//! SQL and the same code, stamped out by `impl_app_user_store!`; they differ only in the helpers
//! each backend file defines (UUID columns, write transactions, row locks). Erasure leaves a
//! tombstone per deleted identity and announces it, as a deletion through the ACS API does, and
//! clears the client addresses of the audit rows about the user in the same transaction.
//! Usernames are unique, and so are their skeletons (computed by the domain).

use async_trait::async_trait;
use sqlx::Row;

use crate::vocabulary::{AppUserId, Change, IdentityId};

use super::StoreError;
use super::audit::{SCRUB_APP_USER, hold_audit_appends_pg, hold_audit_appends_sqlite};
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// An app user as stored (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUserRecord {
    pub id: AppUserId,
    pub username: Option<String>,
    pub oidc_issuer: Option<String>,
    pub oidc_subject: Option<String>,
    pub created_at_ms: i64,
    /// When an operator disabled it, if it is disabled.
    pub disabled_at_ms: Option<i64>,
}

/// A built-in account, as a sign-in checks it.
pub struct StoredAccount {
    pub id: AppUserId,
    pub password_hash: String,
    pub disabled: bool,
}

#[async_trait]
pub trait AppUserStore: Send + Sync {
    /// Creates a built-in account; `false` if the (normalised) username or its skeleton is
    /// taken.
    async fn create_account(
        &self,
        id: AppUserId,
        username: &str,
        skeleton: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Up to `limit` accounts stored without a username skeleton (from before skeletons were
    /// kept), in id order after `after`: their ids and usernames.
    async fn accounts_without_skeleton(
        &self,
        after: Option<AppUserId>,
        limit: u32,
    ) -> Result<Vec<(AppUserId, String)>, StoreError>;
    /// Stores an account's skeleton, unless another account has it (`false`).
    async fn set_skeleton(&self, id: AppUserId, skeleton: &str) -> Result<bool, StoreError>;
    /// The id and password hash of the account with this (normalised) username.
    async fn find_account(&self, username: &str) -> Result<Option<StoredAccount>, StoreError>;
    /// Disables the app user as of `at_ms`, or enables it (`None`); `false` if there is no such
    /// user.
    async fn set_disabled(&self, id: AppUserId, at_ms: Option<i64>) -> Result<bool, StoreError>;
    /// The app user of an OpenID Connect subject, created (as `id`) if new.
    async fn oidc_user(
        &self,
        id: AppUserId,
        issuer: &str,
        subject: &str,
        now_ms: i64,
    ) -> Result<AppUserId, StoreError>;
    /// The app user of an OpenID Connect subject, if it exists.
    async fn find_oidc_user(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<AppUserId>, StoreError>;
    async fn find_app_user(&self, id: AppUserId) -> Result<Option<AppUserRecord>, StoreError>;
    /// Erases the app user in one transaction: every identity only it holds (leaving
    /// tombstones), its mapping rows, refresh families and account, and the client address of
    /// every audit row about it or about the deleted identities. Identities shared with other
    /// users stay theirs. Returns the deleted identities, or `None` if there was no user.
    async fn erase_app_user(
        &self,
        id: AppUserId,
        now_ms: i64,
    ) -> Result<Option<Vec<IdentityId>>, StoreError>;
}

/// Either uniqueness (username, skeleton) makes it do nothing.
const INSERT_ACCOUNT: &str = "INSERT INTO app_users \
     (id, username, username_skeleton, password_hash, created_at_ms) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
const SELECT_WITHOUT_SKELETON: &str = "SELECT id, username FROM app_users \
     WHERE username IS NOT NULL AND username_skeleton IS NULL AND ($2 IS NULL OR id > $2) \
     ORDER BY id LIMIT $1";
const SET_SKELETON: &str = "UPDATE app_users SET username_skeleton = $2 \
     WHERE id = $1 AND username_skeleton IS NULL \
       AND NOT EXISTS (SELECT 1 FROM app_users o WHERE o.username_skeleton = $2)";
const SELECT_ACCOUNT: &str =
    "SELECT id, password_hash, disabled_at_ms FROM app_users WHERE username = $1";
const SET_DISABLED: &str = "UPDATE app_users SET disabled_at_ms = $2 WHERE id = $1";
const INSERT_OIDC_USER: &str = "INSERT INTO app_users (id, oidc_issuer, oidc_subject, created_at_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const SELECT_OIDC_USER: &str =
    "SELECT id FROM app_users WHERE oidc_issuer = $1 AND oidc_subject = $2";
const SELECT_APP_USER: &str = "SELECT id, username, oidc_issuer, oidc_subject, created_at_ms, \
       disabled_at_ms \
     FROM app_users WHERE id = $1";
/// Identities this user holds that no other user holds.
const SELECT_SOLE_IDENTITIES: &str = "SELECT m.identity_id FROM app_user_identities m \
     WHERE m.user_id = $1 AND NOT EXISTS ( \
       SELECT 1 FROM app_user_identities o WHERE o.identity_id = m.identity_id AND o.user_id <> $1)";
/// Mapping rows, refresh families and tokens go with it (`ON DELETE CASCADE`).
const DELETE_APP_USER: &str = "DELETE FROM app_users WHERE id = $1";

/// SQLite: after an erasure, the write-ahead log still holds the erased rows' earlier page
/// images (secure deletion zeroes them only in the pages written now): copy it into the
/// database and truncate it. Readers in the middle of a read are waited for (busy timeout); a
/// checkpoint already under way (`checkpointer.rs`) is waited out, [`TRUNCATE_TRIES`] times.
/// Should that not do, the next erasure's checkpoint takes what is left. The erasure has
/// committed by then, so a checkpoint that did not finish is logged, not returned.
async fn forget_erased_sqlite(store: &SqliteStore) -> Result<(), StoreError> {
    for _ in 0..TRUNCATE_TRIES {
        // (busy, pages in the log, pages copied): busy when another checkpoint or a reader
        // kept it from finishing.
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(store.writer())
            .await;
        match done {
            Ok((0, _, _)) => return Ok(()),
            Ok(_) => tokio::time::sleep(TRUNCATE_RETRY).await,
            Err(error) => {
                tracing::warn!(%error, "the write-ahead log could not be truncated after an erasure");
                return Ok(());
            }
        }
    }
    tracing::warn!("the write-ahead log could not be truncated after an erasure: still in use");
    Ok(())
}

/// How often the truncating checkpoint after an erasure is tried, [`TRUNCATE_RETRY`] apart.
const TRUNCATE_TRIES: u32 = 50;
const TRUNCATE_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// PostgreSQL: dead rows are vacuumed by the database (see docs/guides/app-users.md on erasure).
async fn forget_erased_pg(_store: &PgStore) -> Result<(), StoreError> {
    Ok(())
}

macro_rules! impl_app_user_store {
    ($store:ident, $hold_audit_appends:ident, $forget_erased:ident) => {
        #[async_trait]
        impl AppUserStore for $store {
            async fn create_account(
                &self,
                id: AppUserId,
                username: &str,
                skeleton: &str,
                password_hash: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let inserted = sqlx::query(INSERT_ACCOUNT)
                    .bind($store::uuid_param(id))
                    .bind(username)
                    .bind(skeleton)
                    .bind(password_hash)
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                Ok(inserted == 1)
            }

            async fn accounts_without_skeleton(
                &self,
                after: Option<AppUserId>,
                limit: u32,
            ) -> Result<Vec<(AppUserId, String)>, StoreError> {
                sqlx::query(SELECT_WITHOUT_SKELETON)
                    .bind(i64::from(limit))
                    .bind(after.map($store::uuid_param))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| Ok(($store::uuid_col(row, "id")?, row.try_get("username")?)))
                    .collect()
            }

            async fn set_skeleton(
                &self,
                id: AppUserId,
                skeleton: &str,
            ) -> Result<bool, StoreError> {
                let updated = sqlx::query(SET_SKELETON)
                    .bind($store::uuid_param(id))
                    .bind(skeleton)
                    .execute(self.writer())
                    .await;
                match updated {
                    Ok(done) => Ok(done.rows_affected() == 1),
                    // Another instance gave the skeleton to a look-alike since the check.
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
                    Err(error) => Err(error.into()),
                }
            }

            async fn find_account(
                &self,
                username: &str,
            ) -> Result<Option<StoredAccount>, StoreError> {
                sqlx::query(SELECT_ACCOUNT)
                    .bind(username)
                    .fetch_optional(self.pool())
                    .await?
                    .map(|row| {
                        Ok(StoredAccount {
                            id: $store::uuid_col(&row, "id")?,
                            password_hash: row.try_get("password_hash")?,
                            disabled: row.try_get::<Option<i64>, _>("disabled_at_ms")?.is_some(),
                        })
                    })
                    .transpose()
            }

            async fn set_disabled(
                &self,
                id: AppUserId,
                at_ms: Option<i64>,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(SET_DISABLED)
                    .bind($store::uuid_param(id))
                    .bind(at_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn oidc_user(
                &self,
                id: AppUserId,
                issuer: &str,
                subject: &str,
                now_ms: i64,
            ) -> Result<AppUserId, StoreError> {
                sqlx::query(INSERT_OIDC_USER)
                    .bind($store::uuid_param(id))
                    .bind(issuer)
                    .bind(subject)
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?;
                self.find_oidc_user(issuer, subject).await?.ok_or_else(|| {
                    // Erased between the two statements; the caller may simply retry.
                    StoreError::Other("app user erased while signing in".into())
                })
            }

            async fn find_oidc_user(
                &self,
                issuer: &str,
                subject: &str,
            ) -> Result<Option<AppUserId>, StoreError> {
                sqlx::query(SELECT_OIDC_USER)
                    .bind(issuer)
                    .bind(subject)
                    .fetch_optional(self.pool())
                    .await?
                    .map(|row| $store::uuid_col(&row, "id"))
                    .transpose()
            }

            async fn find_app_user(
                &self,
                id: AppUserId,
            ) -> Result<Option<AppUserRecord>, StoreError> {
                sqlx::query(SELECT_APP_USER)
                    .bind($store::uuid_param(id))
                    .fetch_optional(self.pool())
                    .await?
                    .map(|row| {
                        Ok(AppUserRecord {
                            id: $store::uuid_col(&row, "id")?,
                            username: row.try_get("username")?,
                            oidc_issuer: row.try_get("oidc_issuer")?,
                            oidc_subject: row.try_get("oidc_subject")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            disabled_at_ms: row.try_get("disabled_at_ms")?,
                        })
                    })
                    .transpose()
            }

            async fn erase_app_user(
                &self,
                id: AppUserId,
                now_ms: i64,
            ) -> Result<Option<Vec<IdentityId>>, StoreError> {
                let mut tx = self.begin_write().await?;
                if !$store::lock_app_user(&mut tx, id).await? {
                    return Ok(None);
                }
                $store::lock_identities_of(&mut tx, id).await?;
                let sole = sqlx::query(SELECT_SOLE_IDENTITIES)
                    .bind($store::uuid_param(id))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| $store::uuid_col(row, "identity_id"))
                    .collect::<Result<Vec<_>, _>>()?;
                for identity in &sole {
                    $store::delete_identity_in(&mut tx, *identity, now_ms).await?;
                }
                // The audit rows go in this transaction, not after it: a scrub left for later
                // could be lost. Rows still on their way are written without the address once
                // the user is gone (see `audit.rs`).
                $hold_audit_appends(&mut tx).await?;
                sqlx::query(SCRUB_APP_USER)
                    .bind($store::uuid_param(id))
                    .execute(&mut *tx)
                    .await?;
                for identity in &sole {
                    $store::scrub_identity_audit(&mut tx, *identity).await?;
                }
                sqlx::query(DELETE_APP_USER)
                    .bind($store::uuid_param(id))
                    .execute(&mut *tx)
                    .await?;
                let erased = Change::AppUserErased {
                    user: id,
                    at_ms: now_ms,
                };
                $store::enqueue(&mut tx, erased).await?;
                tx.commit().await?;
                self.committed();
                $forget_erased(self).await?;
                Ok(Some(sole))
            }
        }
    };
}

impl_app_user_store!(PgStore, hold_audit_appends_pg, forget_erased_pg);
impl_app_user_store!(SqliteStore, hold_audit_appends_sqlite, forget_erased_sqlite);
