//! The database as this build finds it, read over one direct connection without creating or
//! changing anything: whether it exists, which migrations would run, and whether it was migrated
//! by a build this one does not know. `callsign config check` prints it; every start reads it
//! before migrating, so a database from a newer Callsign is refused untouched and a connection
//! that fails says why (a pool would only say it timed out).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::{Backend, StoreError};

/// Where the database is, for messages: never the password.
#[derive(Debug, Clone)]
pub struct Location {
    pub backend: Backend,
    /// `host:port/database as user`, or the SQLite file.
    pub described: String,
}

/// What migrating would do to the database.
#[derive(Debug, Default)]
pub struct Schema {
    /// The SQLite file does not exist yet; migrating creates it.
    pub absent: bool,
    /// Migrations this build would apply, as `version description`, in order.
    pub pending: Vec<String>,
    /// Applied migrations this build does not ship: a newer Callsign migrated this database.
    pub unknown: Vec<i64>,
    /// Applied migrations whose text differs from this build's.
    pub modified: Vec<i64>,
    /// Migrations that failed part-way and need a hand.
    pub failed: Vec<i64>,
}

impl Schema {
    /// Why this build must not migrate or serve the database, if it must not.
    pub fn refusal(&self) -> Option<String> {
        if !self.unknown.is_empty() {
            return Some(format!(
                "the database was migrated by a newer Callsign (migrations {} are unknown to this \
                 build); run that version, or restore a backup taken before the upgrade",
                list(&self.unknown)
            ));
        }
        if !self.failed.is_empty() {
            return Some(format!(
                "migrations {} failed part-way on an earlier start; repair the database by hand \
                 (see docs/setup/upgrades.md) before starting again",
                list(&self.failed)
            ));
        }
        if !self.modified.is_empty() {
            return Some(format!(
                "migrations {} were applied with a different text than this build ships; this \
                 database does not belong to this build",
                list(&self.modified)
            ));
        }
        None
    }
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The database a URL names, without its password.
pub fn locate(url: &str) -> Result<Location, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options = pg_options(url)?;
        Ok(Location {
            backend: Backend::Postgres,
            described: format!(
                "PostgreSQL at {}:{}/{} as {}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("(the user's database)"),
                options.get_username()
            ),
        })
    } else if url.starts_with("sqlite:") {
        Ok(Location {
            backend: Backend::Sqlite,
            described: format!(
                "SQLite file {}",
                sqlite_options(url)?.get_filename().display()
            ),
        })
    } else {
        Err(StoreError::Config(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}

/// The migration history over `$connection` (none when `$exists`, a query answering whether the
/// history table exists, says it does not), then closes it. A macro: the two drivers'
/// connections share no trait these queries can be written against.
macro_rules! history {
    ($connection:ident, $exists:literal) => {{
        let mut connection = $connection;
        let exists: bool = sqlx::query_scalar($exists)
            .fetch_one(&mut connection)
            .await?;
        let applied: History = if exists {
            sqlx::query_as(HISTORY).fetch_all(&mut connection).await?
        } else {
            Vec::new()
        };
        let _ = connection.close().await;
        applied
    }};
}

/// Reads the database's migration history over one connection, giving up after `timeout`
/// (connecting and reading alike: a server that accepts and then stalls is unreachable too).
pub async fn inspect(url: &str, timeout: Duration) -> Result<Schema, StoreError> {
    match tokio::time::timeout(timeout, read(url)).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(
            format!("no answer within {} ms", timeout.as_millis()).into(),
        )),
    }
}

async fn read(url: &str) -> Result<Schema, StoreError> {
    let applied = match locate(url)?.backend {
        Backend::Postgres => {
            let options = pg_options(url)?;
            let connection = sqlx::PgConnection::connect_with(&options).await?;
            let applied = history!(
                connection,
                "SELECT to_regclass('_sqlx_migrations') IS NOT NULL"
            );
            Some((&super::postgres::MIGRATOR, applied))
        }
        Backend::Sqlite => {
            let options = sqlite_options(url)?.read_only(true);
            let file = options.get_filename();
            if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" || !file.exists() {
                None
            } else {
                let connection = sqlx::SqliteConnection::connect_with(&options).await?;
                let applied = history!(
                    connection,
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')"
                );
                Some((&super::sqlite::MIGRATOR, applied))
            }
        }
    };
    Ok(match applied {
        Some((migrator, applied)) => compare(migrator, &applied),
        None => Schema {
            absent: true,
            pending: super::sqlite::MIGRATOR
                .iter()
                .map(|m| format!("{} {}", m.version, m.description))
                .collect(),
            ..Schema::default()
        },
    })
}

/// `(version, checksum, success)` of every migration the database has a row for.
const HISTORY: &str = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
type History = Vec<(i64, Vec<u8>, bool)>;

fn compare(migrator: &Migrator, applied: &History) -> Schema {
    let known = |version: i64| migrator.iter().find(|m| m.version == version);
    let mut schema = Schema::default();
    for (version, checksum, success) in applied {
        match known(*version) {
            None => schema.unknown.push(*version),
            Some(_) if !success => schema.failed.push(*version),
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => schema.modified.push(*version),
            Some(_) => {}
        }
    }
    schema.pending = migrator
        .iter()
        .filter(|m| !applied.iter().any(|(version, ..)| *version == m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    schema
}

/// A `postgres://` URL's connection options.
pub(super) fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))
}

/// A `sqlite:` URL's connection options.
pub(super) fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))
}
