//! PostgreSQL backend: the production store, shared by many stateless instances. This file owns
//! the pool, migrations and the change feed; each aggregate's queries live in its own file.
//! Changes go to the outbox inside the writing transaction; the dispatcher announces them with
//! `NOTIFY` once they have committed (`outbox.rs`).

use async_trait::async_trait;
use sqlx::migrate::Migrator;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::{Backend, ChangeFeed, FeedEvent, PoolOptions, Store, StoreError};
use tokio::sync::Notify;

use super::backend::SqlBackend;
use super::pg_new_identities::NewIdentities;
use crate::vocabulary::{AppUserId, Change, IdentityId};

pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The `LISTEN`/`NOTIFY` channel changes travel on.
pub(super) const CHANNEL: &str = "callsign_changes";
/// Longest a single statement may run, in milliseconds.
const STATEMENT_TIMEOUT_MS: &str = "5000";

pub struct PgStore {
    pool: PgPool,
    /// For the change listener's own connection (it must not hold one of the pool's).
    url: String,
    /// Notified when a transaction that wrote to the outbox commits.
    outbox: Notify,
    /// New identities without an external id, inserted in groups.
    pub(super) new_identities: NewIdentities,
}

impl PgStore {
    /// Creates a lazy pool: nothing connects until the first query.
    pub fn open(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let connect = super::schema::pg_options(url)?
            // A statement on a dead or stuck connection fails instead of hanging the request.
            .options([("statement_timeout", STATEMENT_TIMEOUT_MS)]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(PgStore {
            new_identities: NewIdentities::start(pool.clone(), options.acquire_timeout),
            pool,
            url: url.to_owned(),
            outbox: Notify::new(),
        })
    }
}

impl SqlBackend for PgStore {
    type Db = Postgres;
    type UuidParam = Uuid;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// For single-statement writes: the same pool (PostgreSQL takes concurrent writers).
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction (READ COMMITTED; statements that must serialise lock rows).
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    fn outbox_signal(&self) -> &Notify {
        &self.outbox
    }

    async fn scrub_identity_audit(
        tx: &mut Transaction<'_, Postgres>,
        id: IdentityId,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE audit_events SET client_address = NULL \
             WHERE identity_id = $1 AND client_address IS NOT NULL",
        )
        .bind(id.uuid())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Serialises key-ring changes across instances for the rest of the transaction, so
    /// concurrent regenerations queue instead of colliding on the one-key-per-slot indexes.
    async fn lock_keys(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('callsign.keys'))")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Locks an app user's row until `tx` ends, so its first identity is created once.
    async fn lock_app_user(
        tx: &mut Transaction<'_, Postgres>,
        id: AppUserId,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM app_users WHERE id = $1 FOR UPDATE")
                .bind(id.uuid())
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        )
    }

    /// Locks the identities an app user holds until `tx` ends, so which of them only it holds
    /// cannot change under an erasure (a concurrent link waits, then finds them gone).
    async fn lock_identities_of(
        tx: &mut Transaction<'_, Postgres>,
        user: AppUserId,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "SELECT i.id FROM identities i JOIN app_user_identities m ON m.identity_id = i.id \
             WHERE m.user_id = $1 FOR UPDATE OF i",
        )
        .bind(user.uuid())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Whether an identity exists, holding it (shared) until `tx` ends so an erasure cannot
    /// delete it under a new link.
    async fn identity_exists_locked(
        tx: &mut Transaction<'_, Postgres>,
        id: IdentityId,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM identities WHERE id = $1 FOR SHARE")
                .bind(id.uuid())
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        )
    }

    /// Locks the family of a refresh token until `tx` ends, before any of its tokens is
    /// touched. A cascade from a deleted user or identity takes the family first too, so the two
    /// cannot deadlock; and the rotations of a family and its revocation take turns, so none
    /// commits after a revocation it did not see.
    async fn lock_family_of(
        tx: &mut Transaction<'_, Postgres>,
        token_hash: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "SELECT 1 FROM refresh_families \
             WHERE id = (SELECT family_id FROM refresh_tokens WHERE hash = $1) FOR NO KEY UPDATE",
        )
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A UUID as a statement parameter: PostgreSQL has a `uuid` type.
    fn uuid_param(id: impl Into<Uuid>) -> Uuid {
        id.into()
    }

    fn uuid_col<T: From<Uuid>>(row: &PgRow, column: &str) -> Result<T, StoreError> {
        Ok(row.try_get::<Uuid, _>(column)?.into())
    }

    fn uuid_col_opt<T: From<Uuid>>(row: &PgRow, column: &str) -> Result<Option<T>, StoreError> {
        Ok(row.try_get::<Option<Uuid>, _>(column)?.map(T::from))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn database_clock_ms(&self) -> Result<Option<i64>, StoreError> {
        let ms: i64 =
            sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
                .fetch_one(&self.pool)
                .await?;
        Ok(Some(ms))
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        let applied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM _sqlx_migrations WHERE success AND version = ANY($1)",
        )
        .bind(MIGRATOR.iter().map(|m| m.version).collect::<Vec<_>>())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::readiness)?;
        if applied as usize == MIGRATOR.iter().count() {
            Ok(())
        } else {
            Err(StoreError::NotMigrated(format!(
                "{applied} of {} migrations applied",
                MIGRATOR.iter().count()
            )))
        }
    }

    fn pool_connections(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgFeed { listener })))
    }
}

struct PgFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgFeed {
    async fn next(&mut self) -> FeedEvent {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notification)) => match Change::decode(notification.payload()) {
                    Some(change) => return FeedEvent::Change(change),
                    None => tracing::warn!("ignoring an unknown change notification"),
                },
                // The connection dropped: report a gap; the caller subscribes afresh.
                Ok(None) => return FeedEvent::Gap,
                Err(error) => {
                    tracing::warn!(%error, "change feed connection failed");
                    // Do not spin while the database is down.
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    return FeedEvent::Gap;
                }
            }
        }
    }
}
