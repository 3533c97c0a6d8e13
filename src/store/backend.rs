//! What the `impl_*_store!` macros rely on: the few things PostgreSQL and SQLite do differently
//! (pools, write transactions, row locks, how a UUID is bound and read, the outbox's wake-up),
//! written once as a contract each backend file fulfils. Everything else is the same SQL and the
//! same code on both.

use futures_util::future::BoxFuture;
use sqlx::{Database, Pool, Transaction};
use tokio::sync::Notify;
use uuid::Uuid;

use super::StoreError;

use crate::vocabulary::{AppUserId, IdentityId};

#[allow(
    async_fn_in_trait,
    reason = "used on the concrete stores only, never as a trait object"
)]
pub trait SqlBackend {
    type Db: Database;
    /// How a UUID is bound: PostgreSQL's `uuid`, SQLite's hyphenated text.
    type UuidParam;

    /// For reads.
    fn pool(&self) -> &Pool<Self::Db>;
    /// For single-statement writes.
    fn writer(&self) -> &Pool<Self::Db>;
    /// A write transaction: statements that must serialise lock rows (PostgreSQL), or the
    /// whole database from its start (SQLite).
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, StoreError>;
    /// Runs `write` in a write transaction and returns its value once that has committed. On
    /// SQLite concurrent writes share one transaction, each under its own savepoint (group
    /// commit); here, each has its own.
    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(
                &'t mut Transaction<'c, Self::Db>,
            ) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let mut tx = self.begin_write().await?;
        let value = write(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
    /// Wakes the dispatcher: a transaction that put a change in the outbox (`enqueue`, in
    /// `outbox.rs`) has committed.
    fn committed(&self) {
        self.outbox_signal().notify_one();
    }
    /// What the dispatcher waits on.
    fn outbox_signal(&self) -> &Notify;
    /// Serialises key-ring changes for the rest of the transaction.
    async fn lock_keys(tx: &mut Transaction<'_, Self::Db>) -> Result<(), StoreError>;
    /// Locks an app user until `tx` ends; `false` if there is no such user.
    async fn lock_app_user(
        tx: &mut Transaction<'_, Self::Db>,
        id: AppUserId,
    ) -> Result<bool, StoreError>;
    /// Locks the identities an app user holds until `tx` ends.
    async fn lock_identities_of(
        tx: &mut Transaction<'_, Self::Db>,
        user: AppUserId,
    ) -> Result<(), StoreError>;
    /// Whether an identity exists, holding it until `tx` ends.
    async fn identity_exists_locked(
        tx: &mut Transaction<'_, Self::Db>,
        id: IdentityId,
    ) -> Result<bool, StoreError>;
    /// Locks the family of a refresh token until `tx` ends.
    async fn lock_family_of(
        tx: &mut Transaction<'_, Self::Db>,
        token_hash: &[u8],
    ) -> Result<(), StoreError>;
    /// Clears the client address from the audit rows about an identity (its deletion or its
    /// user's erasure), once appends are held off (`hold_audit_appends_*` in `audit.rs`).
    async fn scrub_identity_audit(
        tx: &mut Transaction<'_, Self::Db>,
        id: IdentityId,
    ) -> Result<(), StoreError>;
    /// An id as a statement parameter.
    fn uuid_param(id: impl Into<Uuid>) -> Self::UuidParam;
    /// An id column.
    fn uuid_col<T: From<Uuid>>(
        row: &<Self::Db as Database>::Row,
        column: &str,
    ) -> Result<T, StoreError>;
    /// A nullable id column.
    fn uuid_col_opt<T: From<Uuid>>(
        row: &<Self::Db as Database>::Row,
        column: &str,
    ) -> Result<Option<T>, StoreError>;
}
