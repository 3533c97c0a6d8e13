//! The transactional outbox. A change that others must hear of (a revocation, a deletion, a key
//! change) is written to the `outbox` table in the transaction that makes it, so it exists if
//! and only if the change committed; the post-commit dispatcher (`crate::dispatcher`) takes the
//! rows out, oldest first, and carries out what follows them in the transaction that deletes
//! them: on PostgreSQL a `NOTIFY` to every instance, so each row is announced exactly once
//! however many instances drain; the security events it means queued for every event stream
//! (`stream_events.rs`); and for a deleted identity, the client addresses of its audit rows
//! cleared. A row left by an instance that died after committing is taken by the
//! next drain, on any instance, after a restart at the latest.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::audit::{hold_audit_appends_pg, hold_audit_appends_sqlite};
use super::backend::SqlBackend;
use super::postgres::{CHANNEL, PgStore};
use super::sqlite::SqliteStore;
use super::stream_events::FanOut;
use crate::vocabulary::{Change, IdentityId, Revocation};

/// Puts a change in the outbox.
const INSERT: &str = "INSERT INTO outbox (event) VALUES ($1)";
/// Takes the oldest rows; rows another instance is taking are skipped, not waited for
/// (PostgreSQL; SQLite has one writer, and no `SKIP LOCKED`).
const TAKE_PG: &str = "DELETE FROM outbox WHERE id IN \
     (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, event";
const TAKE_SQLITE: &str = "DELETE FROM outbox WHERE id IN \
     (SELECT id FROM outbox ORDER BY id LIMIT $1) RETURNING id, event";
/// One notification per event, in one statement.
const NOTIFY_ALL: &str = "SELECT pg_notify($1, event) FROM UNNEST($2::text[]) AS event";

/// What the dispatcher took from the outbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// Rows this version cannot read (written by a newer one); announced all the same.
    pub unknown: usize,
    /// The security events queued for the event streams.
    pub fan_out: FanOut,
}

impl Dispatched {
    /// How many rows were taken.
    pub fn len(&self) -> usize {
        self.changes.len() + self.unknown
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The identities deleted (or erased with their app user) by the changes taken.
    fn deleted_identities(&self) -> Vec<IdentityId> {
        self.changes
            .iter()
            .filter_map(|change| match change {
                Change::Revocation(Revocation::Deleted { id }) => Some(*id),
                _ => None,
            })
            .collect()
    }
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Takes up to `limit` of the oldest rows out of the outbox and delivers them to every
    /// instance and event stream, atomically: a failure leaves them for the next drain.
    async fn dispatch_outbox(&self, limit: u32, now_ms: i64) -> Result<Dispatched, StoreError>;
    /// What a drain waits on: notified whenever a transaction that wrote to the outbox commits
    /// on this instance.
    fn outbox_signal(&self) -> &tokio::sync::Notify;
}

/// The rows as taken, oldest first.
fn events<R: Row>(rows: &[R]) -> Result<Vec<(i64, String)>, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut taken = rows
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("event")?)))
        .collect::<Result<Vec<(i64, String)>, StoreError>>()?;
    taken.sort_unstable_by_key(|(id, _)| *id);
    Ok(taken)
}

fn decoded(taken: &[(i64, String)]) -> Dispatched {
    let mut dispatched = Dispatched::default();
    for (_, event) in taken {
        match Change::decode(event) {
            Some(change) => dispatched.changes.push(change),
            None => dispatched.unknown += 1,
        }
    }
    dispatched
}

/// Stamps out, for one backend, `enqueue` (the insert every changing transaction makes) and the
/// [`OutboxStore`]: `$take` takes the rows, `$deliver` announces their payloads inside the
/// taking transaction.
macro_rules! impl_outbox_store {
    ($store:ident, $db:ty, $take:expr, $hold_audit:expr, $deliver:expr) => {
        impl $store {
            /// Puts `change` in the outbox, committed with `tx`.
            pub(super) async fn enqueue(
                tx: &mut sqlx::Transaction<'_, $db>,
                change: Change,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT)
                    .bind(change.encode())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl OutboxStore for $store {
            async fn dispatch_outbox(
                &self,
                limit: u32,
                now_ms: i64,
            ) -> Result<Dispatched, StoreError> {
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query($take)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                let taken = events(&rows)?;
                let mut dispatched = decoded(&taken);
                dispatched.fan_out = $store::fan_out(&mut tx, &dispatched.changes, now_ms).await?;
                let deleted = dispatched.deleted_identities();
                if !deleted.is_empty() {
                    // Rows appended from now on find the identity's tombstone and keep no
                    // address; those appended before are scrubbed here.
                    $hold_audit(&mut tx).await?;
                    for identity in deleted {
                        $store::scrub_identity_audit(&mut tx, identity).await?;
                    }
                }
                if !taken.is_empty() {
                    let payloads: Vec<&str> =
                        taken.iter().map(|(_, event)| event.as_str()).collect();
                    $deliver(&mut tx, payloads).await?;
                }
                tx.commit().await?;
                Ok(dispatched)
            }

            fn outbox_signal(&self) -> &tokio::sync::Notify {
                SqlBackend::outbox_signal(self)
            }
        }
    };
}

/// PostgreSQL: a `NOTIFY` per row, sent when the taking transaction commits.
async fn notify_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    payloads: Vec<&str>,
) -> Result<(), StoreError> {
    sqlx::query(NOTIFY_ALL)
        .bind(CHANNEL)
        .bind(payloads)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// SQLite serves one instance: taking the rows is delivering them.
async fn taken_only(
    _tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    _payloads: Vec<&str>,
) -> Result<(), StoreError> {
    Ok(())
}

impl_outbox_store!(
    PgStore,
    sqlx::Postgres,
    TAKE_PG,
    hold_audit_appends_pg,
    notify_all
);
impl_outbox_store!(
    SqliteStore,
    sqlx::Sqlite,
    TAKE_SQLITE,
    hold_audit_appends_sqlite,
    taken_only
);
