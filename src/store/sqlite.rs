//! SQLite backend: the embedded default, one file under the data directory, one instance. This
//! file owns the pool and migrations; each aggregate's queries live in its own file.
//! Writes take the lock up front (`BEGIN IMMEDIATE`) so concurrent writers queue on
//! `busy_timeout` instead of failing on a lock upgrade.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::Notify;
use uuid::Uuid;

use super::backend::SqlBackend;
use super::checkpointer::Checkpointer;
use super::group_commit::GroupCommit;
use super::{Backend, ChangeFeed, PoolOptions, Store, StoreError};
use crate::private_files;
use crate::vocabulary::{AppUserId, IdentityId};

pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The write-ahead log's size (pages) past which the writer checkpoints it in a commit: a
/// backstop. The log starts over only once a checkpoint has copied all of it, which the one
/// beside the writer never does while commits keep coming during each of its copies; the
/// writer's own then copies only what that one has not.
const WRITER_CHECKPOINT_PAGES: &str = "10000";
/// The bytes the write-ahead log's file is cut back to when the log starts over (64 MiB).
const WAL_FILE_LIMIT: &str = "67108864";

/// Readers share a pool; every write goes through one writer connection, so writes queue in
/// order instead of retrying on each other's lock.
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// Writes grouped into shared transactions on the writer connection.
    pub(super) group: GroupCommit,
    /// Notified when a transaction that wrote to the outbox commits.
    outbox: Notify,
    /// Copies the write-ahead log into the database; none for a database in memory.
    _checkpointer: Option<Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file a `sqlite:` URL names.
    pub async fn open(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let connect = super::schema::sqlite_options(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL for the readers (they commit nothing); the writer's is FULL, below.
            .synchronous(SqliteSynchronous::Normal)
            // Only the writer takes the write lock; readers never wait for it (WAL).
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true)
            // Deleted rows (an erased user's username, password hash, OpenID Connect subject)
            // are overwritten, not left in free space for anyone with the file to read.
            .pragma("secure_delete", "ON")
            // The write-ahead log's file is cut back to this when the log starts over.
            .pragma("journal_size_limit", WAL_FILE_LIMIT);
        if let Some(dir) = connect
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_dir(dir)?;
        }
        let file = connect.get_filename();
        if !file.as_os_str().is_empty() && file != Path::new(":memory:") {
            private_files::touch(file).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create database file {}: {e}",
                    file.display()
                ))
            })?;
            check_writable(file)?;
        }
        // FULL on the writer: a commit is on disk (the WAL fsynced) before it is acknowledged,
        // so an acknowledged revocation survives a power cut. Group commit makes that one fsync
        // per group of writes, not per write.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(
                connect
                    .clone()
                    .synchronous(SqliteSynchronous::Full)
                    // Each write of a group runs under a savepoint, whose journal of the pages
                    // it changed is kept in memory instead of spilling to a temporary file. The
                    // writer's largest sort is the audit trail's identity index, a few MiB at
                    // most (`audit/sqlite.rs`); migrations sort in files, see migrate.
                    .pragma("temp_store", "memory")
                    // Checkpoints run beside the writer (`checkpointer.rs`); the writer runs one
                    // itself only when writes never pause long enough for the log to start over.
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES),
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect.clone());
        // A connection of its own, so a checkpoint never takes a reader's.
        let checkpointing = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        Ok(SqliteStore {
            _checkpointer: Some(Checkpointer::start(checkpointing)),
            pool,
            group: GroupCommit::start(writer.clone()),
            writer,
            outbox: Notify::new(),
        })
    }

    /// A private in-memory database on one connection, for the use-case tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Config(e.to_string()))?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await?;
        // One connection is the whole database: it reads and writes.
        let store = SqliteStore {
            writer: pool.clone(),
            group: GroupCommit::start(pool.clone()),
            pool,
            outbox: Notify::new(),
            _checkpointer: None,
        };
        store.migrate().await?;
        Ok(store)
    }
}

impl SqlBackend for SqliteStore {
    type Db = Sqlite;
    type UuidParam = uuid::fmt::Hyphenated;

    /// For reads.
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// For single-statement writes: the one writer connection.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction on the writer connection, holding the database lock from its start.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Grouped with the writes queued beside it into one transaction.
    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(
                &'t mut Transaction<'c, Sqlite>,
            ) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.group.write(write).await
    }

    /// The rows the audit trail's identity index covers, and those past its mark
    /// (`audit/sqlite.rs`).
    async fn scrub_identity_audit(
        tx: &mut Transaction<'_, Sqlite>,
        id: IdentityId,
    ) -> Result<(), StoreError> {
        for statement in [
            "UPDATE audit_events SET client_address = NULL \
             WHERE client_address IS NOT NULL \
               AND id IN (SELECT event_id FROM audit_identity_events WHERE identity_id = $1)",
            "UPDATE audit_events SET client_address = NULL \
             WHERE client_address IS NOT NULL AND identity_id = $1 \
               AND id > (SELECT up_to FROM audit_identity_mark)",
        ] {
            sqlx::query(statement)
                .bind(Self::uuid_param(id))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The write transaction already serialises key changes.
    async fn lock_keys(_tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
        Ok(())
    }

    fn outbox_signal(&self) -> &Notify {
        &self.outbox
    }

    /// The write transaction already holds the database lock; this only checks the user exists.
    async fn lock_app_user(
        tx: &mut Transaction<'_, Sqlite>,
        id: AppUserId,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM app_users WHERE id = $1")
            .bind(id.uuid().hyphenated())
            .fetch_optional(&mut **tx)
            .await?
            .is_some())
    }

    /// The write transaction already holds the database lock.
    async fn lock_identities_of(
        _tx: &mut Transaction<'_, Sqlite>,
        _user: AppUserId,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn identity_exists_locked(
        tx: &mut Transaction<'_, Sqlite>,
        id: IdentityId,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM identities WHERE id = $1")
            .bind(id.uuid().hyphenated())
            .fetch_optional(&mut **tx)
            .await?
            .is_some())
    }

    /// The write transaction already holds the database lock.
    async fn lock_family_of(
        _tx: &mut Transaction<'_, Sqlite>,
        _token_hash: &[u8],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// A UUID as a statement parameter: SQLite keeps the hyphenated text.
    fn uuid_param(id: impl Into<Uuid>) -> uuid::fmt::Hyphenated {
        id.into().hyphenated()
    }

    fn uuid_col<T: From<Uuid>>(row: &SqliteRow, column: &str) -> Result<T, StoreError> {
        uuid_from(row, column).map(T::from)
    }

    fn uuid_col_opt<T: From<Uuid>>(row: &SqliteRow, column: &str) -> Result<Option<T>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        Ok(text
            .map(|text| parse_uuid(&text, column))
            .transpose()?
            .map(T::from))
    }
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    private_files::create_dir(dir).map_err(|e| {
        StoreError::Config(format!(
            "cannot create database directory {}: {e}",
            dir.display()
        ))
    })
}

/// SQLite opens a file it may not write read-only, and in WAL mode must create files beside it;
/// either way it would fail later with an error naming no file. Refuse such a location now.
fn check_writable(file: &Path) -> Result<(), StoreError> {
    let refuse = |what: &Path, e: std::io::Error| {
        StoreError::Config(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .map_err(|e| refuse(file, e))?;
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".callsign-write-check-{}", std::process::id()));
    private_files::touch(&probe).map_err(|e| refuse(dir, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// SQLite keeps UUIDs as their hyphenated text.
fn uuid_from(row: &SqliteRow, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(column)?;
    parse_uuid(&text, column)
}

fn parse_uuid(text: &str, column: &str) -> Result<Uuid, StoreError> {
    Uuid::try_parse(text).map_err(|_| StoreError::Corrupt(format!("bad uuid in {column}")))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // The writer keeps what is temporary in memory (its savepoints' journals, above all); a
        // migration may sort a whole table to build an index, so it sorts in files.
        // (The writer pool is its one connection.)
        sqlx::query("PRAGMA temp_store = DEFAULT")
            .execute(&self.writer)
            .await?;
        let migrated = MIGRATOR.run(&self.writer).await;
        sqlx::query("PRAGMA temp_store = MEMORY")
            .execute(&self.writer)
            .await?;
        migrated?;
        Ok(())
    }

    async fn database_clock_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::readiness)?;
        let missing = MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if missing == 0 {
            Ok(())
        } else {
            Err(StoreError::NotMigrated(format!(
                "{missing} migrations not applied"
            )))
        }
    }

    /// SQLite has no cross-process notifications; the periodic resync covers a second process.
    fn pool_connections(&self) -> (u32, usize) {
        (
            self.pool.size() + self.writer.size(),
            self.pool.num_idle() + self.writer.num_idle(),
        )
    }

    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }
}
