//! The audit trail as stored: rows appended in batches, read newest first with filters and
//! keyset paging, purged past retention, and stripped of client addresses on erasure. Both
//! backends run the same SQL and code, stamped out by `impl_audit_store!`, except appending,
//! where each has its fastest bulk insert; purging, where PostgreSQL drops whole days
//! (`audit_partitions`) and SQLite deletes rows; and finding an identity's rows, which SQLite
//! indexes in bulk ([`sqlite`]).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Postgres, Row, Sqlite, Transaction};

use crate::vocabulary::{Action, AppUserId, IdentityId};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// One audit row. `id` is assigned by the store (0 when appending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at_ms: i64,
    pub action: Action,
    pub actor: Cow<'static, str>,
    pub identity: Option<IdentityId>,
    pub app_user: Option<AppUserId>,
    /// A JSON object, e.g. a token's scopes and lifetime.
    pub details: Option<String>,
    pub client_address: Option<String>,
    /// The server's id for the request.
    pub request_id: Option<Arc<str>>,
    /// The id the client gave its request, if it was acceptable (see the HTTP frame).
    pub client_request_id: Option<Arc<str>>,
}

/// Which rows to read: all given conditions hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub identity: Option<IdentityId>,
    pub app_user: Option<AppUserId>,
    pub action: Option<Action>,
    /// Inclusive lower bound.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound.
    pub to_ms: Option<i64>,
    /// Keyset paging: only rows older than this id.
    pub before_id: Option<i64>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends rows in the order given, all or none.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    /// Up to `limit` rows matching `filter`, newest first.
    async fn audit_events(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Deletes rows older than `before_ms` (on PostgreSQL: whole days before it); returns
    /// about how many.
    async fn purge_audit(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Makes room for the rows of the coming days (PostgreSQL's partitions; nothing on SQLite).
    async fn prepare_audit(&self, now_ms: i64) -> Result<(), StoreError>;
}

const INSERT_PREFIX: &str = "INSERT INTO audit_events \
     (at_ms, action, actor, identity_id, app_user_id, details, client_address, request_id, \
     client_request_id) ";
/// The columns a listing reads.
macro_rules! select_columns {
    () => {
        "id, at_ms, action, actor, identity_id, app_user_id, details, client_address, \
         request_id, client_request_id"
    };
}
/// What a listing filters on besides the identity (`$1`) and the page (`$6`, `$7`): the app
/// user, the action and the time range.
macro_rules! listing_filters {
    () => {
        "($2 IS NULL OR app_user_id = $2) AND ($3 IS NULL OR action = $3) \
         AND ($4 IS NULL OR at_ms >= $4) AND ($5 IS NULL OR at_ms < $5)"
    };
}
const SELECT_EVENTS: &str = concat!(
    "SELECT ",
    select_columns!(),
    " FROM audit_events WHERE ($1 IS NULL OR identity_id = $1) AND ",
    listing_filters!(),
    " AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
);
pub(super) const SCRUB_APP_USER: &str = "UPDATE audit_events SET client_address = NULL WHERE app_user_id = $1 AND client_address IS NOT NULL";
/// The client address to store: none for a row about an app user that no longer exists, or
/// about a deleted identity (erased or deleted while the row was on its way), whose erasure or
/// deletion has scrubbed, or will scrub, the rows before it.
macro_rules! client_address_unless_erased {
    () => {
        "CASE WHEN (app_user_id IS NULL \
           OR EXISTS (SELECT 1 FROM app_users u WHERE u.id = app_user_id)) \
         AND (identity_id IS NULL \
           OR NOT EXISTS (SELECT 1 FROM identity_tombstones t WHERE t.id = identity_id)) \
         THEN client_address END"
    };
}

// After the macros it uses.
pub(super) mod sqlite;

/// PostgreSQL: holds off audit appends until `tx` ends, once those under way have committed,
/// so a scrub in `tx` sees every row appended before it, and a row appended after finds its
/// erased user gone.
pub(super) async fn hold_audit_appends_pg(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), StoreError> {
    sqlx::query("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// SQLite: the write transaction holds the whole database already.
pub(super) async fn hold_audit_appends_sqlite(
    _tx: &mut Transaction<'_, Sqlite>,
) -> Result<(), StoreError> {
    Ok(())
}

/// The action of a row; `None` for one this version does not know (written by a newer
/// version during an upgrade): it is left out of what is read, with a warning.
fn known_action<R: Row>(row: &R) -> Result<Option<Action>, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let name: String = row.try_get("action")?;
    let action = Action::parse(&name);
    if action.is_none() {
        tracing::warn!(
            action = %crate::text::escaped(&name),
            "an audit event of an action this version does not know is left out"
        );
    }
    Ok(action)
}

/// PostgreSQL: one array a column, so a batch is nine parameters however many rows it has
/// (and one prepared statement), in the order given.
const INSERT_UNNEST_PG: &str = concat!(
    "INSERT INTO audit_events \
     (at_ms, action, actor, identity_id, app_user_id, details, client_address, request_id, \
      client_request_id) \
     SELECT at_ms, action, actor, identity_id, app_user_id, details, ",
    client_address_unless_erased!(),
    ", request_id, client_request_id \
     FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], \
                 $7::text[], $8::text[], $9::text[]) WITH ORDINALITY \
       AS batch (at_ms, action, actor, identity_id, app_user_id, details, client_address, \
                 request_id, client_request_id, position) \
     ORDER BY position"
);

/// PostgreSQL: a row stamped on a day that has no partition yet (an instance's clock jumped
/// past the days made ahead) gets its day made, and the batch is tried again.
async fn append_pg(store: &PgStore, records: &[AuditRecord]) -> Result<(), StoreError> {
    match insert_pg(store, records).await {
        Err(error) if no_partition(&error) => {
            let days = records.iter().map(|record| record.at_ms).collect();
            super::audit_partitions::make_days(store, days).await?;
            Ok(insert_pg(store, records).await?)
        }
        other => Ok(other?),
    }
}

/// PostgreSQL's "no partition of relation found for row" (a check violation).
fn no_partition(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code == "23514")
}

async fn insert_pg(store: &PgStore, records: &[AuditRecord]) -> Result<(), sqlx::Error> {
    let column = |value: fn(&AuditRecord) -> Option<&str>| -> Vec<Option<&str>> {
        records.iter().map(value).collect()
    };
    sqlx::query(INSERT_UNNEST_PG)
        .bind(records.iter().map(|r| r.at_ms).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.action.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| r.actor.as_ref()).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.identity.map(IdentityId::uuid))
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.app_user.map(AppUserId::uuid))
                .collect::<Vec<_>>(),
        )
        .bind(column(|r| r.details.as_deref()))
        .bind(column(|r| r.client_address.as_deref()))
        .bind(column(|r| r.request_id.as_deref()))
        .bind(column(|r| r.client_request_id.as_deref()))
        .execute(store.writer())
        .await?;
    Ok(())
}

macro_rules! impl_audit_store {
    ($store:ident, $append:path, $select:path, $purge:path, $prepare:path) => {
        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
                if records.is_empty() {
                    return Ok(());
                }
                $append(self, records).await
            }

            async fn audit_events(
                &self,
                filter: &AuditFilter,
                limit: u32,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                sqlx::query($select(filter))
                    .bind(filter.identity.map($store::uuid_param))
                    .bind(filter.app_user.map($store::uuid_param))
                    .bind(filter.action.map(Action::as_str))
                    .bind(filter.from_ms)
                    .bind(filter.to_ms)
                    .bind(filter.before_id)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .filter_map(|row| known_action(row).transpose().map(|action| (row, action)))
                    .map(|(row, action)| {
                        Ok(AuditRecord {
                            id: row.try_get("id")?,
                            at_ms: row.try_get("at_ms")?,
                            action: action?,
                            actor: Cow::Owned(row.try_get("actor")?),
                            identity: $store::uuid_col_opt(row, "identity_id")?,
                            app_user: $store::uuid_col_opt(row, "app_user_id")?,
                            details: row.try_get("details")?,
                            client_address: row.try_get("client_address")?,
                            request_id: row
                                .try_get::<Option<String>, _>("request_id")?
                                .map(Arc::from),
                            client_request_id: row
                                .try_get::<Option<String>, _>("client_request_id")?
                                .map(Arc::from),
                        })
                    })
                    .collect()
            }

            async fn purge_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
                $purge(self, before_ms).await
            }

            async fn prepare_audit(&self, now_ms: i64) -> Result<(), StoreError> {
                $prepare(self, now_ms).await
            }
        }
    };
}

impl_audit_store!(
    PgStore,
    append_pg,
    select_events_pg,
    super::audit_partitions::purge,
    super::audit_partitions::prepare
);
impl_audit_store!(
    SqliteStore,
    sqlite::append,
    sqlite::select_events,
    sqlite::purge,
    sqlite::prepare
);

/// PostgreSQL lists an identity's rows like any others, through its `(identity_id, id)` index.
fn select_events_pg(_filter: &AuditFilter) -> &'static str {
    SELECT_EVENTS
}
