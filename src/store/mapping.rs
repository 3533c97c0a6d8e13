//! Which identities each app user holds: 1:1 by default (the first identity is created on first
//! need, exactly once however many requests race for it), 1:N, N:1 and N:M by linking. Both
//! backends run the same SQL and code, stamped out by `impl_mapping_store!`.

use async_trait::async_trait;
use uuid::Uuid;

use crate::vocabulary::{AppUserId, IdentityId};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// The outcome of linking an identity to an app user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    New,
    Already,
    NoSuchUser,
    NoSuchIdentity,
}

#[async_trait]
pub trait MappingStore: Send + Sync {
    /// The user's identities, oldest link first (the first is its default); `None` if there is
    /// no such user.
    async fn identities_of(&self, user: AppUserId) -> Result<Option<Vec<IdentityId>>, StoreError>;
    /// The app users holding an identity.
    async fn users_of(&self, identity: IdentityId) -> Result<Vec<AppUserId>, StoreError>;
    /// The user's default identity, creating `candidate` as it if the user has none. Returns
    /// the identity and whether it was created now; `None` if there is no such user.
    async fn ensure_identity(
        &self,
        user: AppUserId,
        candidate: IdentityId,
        now_ms: i64,
    ) -> Result<Option<(IdentityId, bool)>, StoreError>;
    /// Creates identity `id` and links it to the user (one more identity: 1:N); `false` if
    /// there is no such user.
    async fn create_linked_identity(
        &self,
        user: AppUserId,
        id: IdentityId,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    async fn link(
        &self,
        user: AppUserId,
        identity: IdentityId,
        now_ms: i64,
    ) -> Result<Linked, StoreError>;
    /// Removes one link; the identity itself stays. `false` if there was no such link.
    async fn unlink(&self, user: AppUserId, identity: IdentityId) -> Result<bool, StoreError>;
}

const SELECT_IDENTITIES: &str = "SELECT identity_id FROM app_user_identities WHERE user_id = $1 \
     ORDER BY linked_at_ms, identity_id";
const SELECT_USERS: &str =
    "SELECT user_id FROM app_user_identities WHERE identity_id = $1 ORDER BY linked_at_ms, user_id";
const USER_EXISTS: &str = "SELECT 1 FROM app_users WHERE id = $1";
const INSERT_IDENTITY: &str = "INSERT INTO identities (id, created_at_ms) VALUES ($1, $2)";
const INSERT_LINK: &str = "INSERT INTO app_user_identities (user_id, identity_id, linked_at_ms) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const DELETE_LINK: &str = "DELETE FROM app_user_identities WHERE user_id = $1 AND identity_id = $2";

macro_rules! impl_mapping_store {
    ($store:ident) => {
        impl $store {
            async fn uuids<T: From<Uuid>>(
                &self,
                sql: &'static str,
                id: impl Into<Uuid>,
                column: &str,
            ) -> Result<Vec<T>, StoreError> {
                sqlx::query(sql)
                    .bind($store::uuid_param(id))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| $store::uuid_col(row, column))
                    .collect()
            }
        }

        #[async_trait]
        impl MappingStore for $store {
            async fn identities_of(
                &self,
                user: AppUserId,
            ) -> Result<Option<Vec<IdentityId>>, StoreError> {
                let exists = sqlx::query(USER_EXISTS)
                    .bind($store::uuid_param(user))
                    .fetch_optional(self.pool())
                    .await?
                    .is_some();
                if !exists {
                    return Ok(None);
                }
                Ok(Some(
                    self.uuids(SELECT_IDENTITIES, user, "identity_id").await?,
                ))
            }

            async fn users_of(&self, identity: IdentityId) -> Result<Vec<AppUserId>, StoreError> {
                self.uuids(SELECT_USERS, identity, "user_id").await
            }

            async fn ensure_identity(
                &self,
                user: AppUserId,
                candidate: IdentityId,
                now_ms: i64,
            ) -> Result<Option<(IdentityId, bool)>, StoreError> {
                let mut tx = self.begin_write().await?;
                // Concurrent first requests queue here; the first creates, the rest find it.
                if !$store::lock_app_user(&mut tx, user).await? {
                    return Ok(None);
                }
                let existing = sqlx::query(SELECT_IDENTITIES)
                    .bind($store::uuid_param(user))
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = existing {
                    return Ok(Some(($store::uuid_col(&row, "identity_id")?, false)));
                }
                sqlx::query(INSERT_IDENTITY)
                    .bind($store::uuid_param(candidate))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_LINK)
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(candidate))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some((candidate, true)))
            }

            async fn create_linked_identity(
                &self,
                user: AppUserId,
                id: IdentityId,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                if !$store::lock_app_user(&mut tx, user).await? {
                    return Ok(false);
                }
                sqlx::query(INSERT_IDENTITY)
                    .bind($store::uuid_param(id))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT_LINK)
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(id))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn link(
                &self,
                user: AppUserId,
                identity: IdentityId,
                now_ms: i64,
            ) -> Result<Linked, StoreError> {
                let mut tx = self.begin_write().await?;
                if !$store::lock_app_user(&mut tx, user).await? {
                    return Ok(Linked::NoSuchUser);
                }
                if !$store::identity_exists_locked(&mut tx, identity).await? {
                    return Ok(Linked::NoSuchIdentity);
                }
                let inserted = sqlx::query(INSERT_LINK)
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(identity))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(if inserted == 1 {
                    Linked::New
                } else {
                    Linked::Already
                })
            }

            async fn unlink(
                &self,
                user: AppUserId,
                identity: IdentityId,
            ) -> Result<bool, StoreError> {
                let deleted = sqlx::query(DELETE_LINK)
                    .bind($store::uuid_param(user))
                    .bind($store::uuid_param(identity))
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                Ok(deleted == 1)
            }
        }
    };
}

impl_mapping_store!(PgStore);
impl_mapping_store!(SqliteStore);
