//! Storage errors, classified at the boundary: a database that is down is not a bug. Nothing of
//! `sqlx` leaves the store; the domain sees only this small type.

/// The underlying cause, kept for logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a storage call failed. The message says it once, in words: the cause is part of it, not
/// a source to print again after it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded right now; retrying later may work.
    #[error("the database is unavailable: {}", in_words(.0.as_ref()))]
    Unavailable(Cause),
    /// Anything else the database reported.
    #[error("{}", in_words(.0.as_ref()))]
    Other(Cause),
    /// The schema is behind the code.
    #[error("database is not migrated: {0}")]
    NotMigrated(String),
    /// A stored row the code cannot read.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// For readiness checks: a query the schema cannot answer means "not migrated".
    pub(super) fn readiness(error: sqlx::Error) -> Self {
        match StoreError::from(error) {
            StoreError::Other(error) => StoreError::NotMigrated(error.to_string()),
            other => other,
        }
    }

    /// The same error for another party to the same failed statement (a member of a group
    /// written together): the same kind, its cause in words, counted as each failed write is.
    pub(super) fn for_another(&self) -> StoreError {
        if let StoreError::Unavailable(_) | StoreError::Other(_) = self {
            crate::telemetry::metrics::database_error(matches!(self, StoreError::Unavailable(_)));
        }
        match self {
            StoreError::Unavailable(cause) => {
                StoreError::Unavailable(in_words(cause.as_ref()).into())
            }
            StoreError::Other(cause) => StoreError::Other(in_words(cause.as_ref()).into()),
            StoreError::NotMigrated(text) => StoreError::NotMigrated(text.clone()),
            StoreError::Corrupt(text) => StoreError::Corrupt(text.clone()),
            StoreError::Config(text) => StoreError::Config(text.clone()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unavailable = is_unavailable(&error);
        crate::telemetry::metrics::database_error(unavailable);
        if unavailable {
            StoreError::Unavailable(error.into())
        } else {
            StoreError::Other(error.into())
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(error) => error.into(),
            other => StoreError::Other(other.into()),
        }
    }
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite reports extended codes; the primary code is the low byte:
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6).
                matches!(code.parse::<u32>().map(|c| c & 0xff), Ok(5 | 6))
            } else {
                // PostgreSQL: connection exceptions (08…), shutdown and statement timeout
                // (57…), too many connections (53300).
                code.starts_with("08") || code.starts_with("57") || code == "53300"
            }
        }
        _ => false,
    }
}

/// What went wrong, for a person: the database's own message without sqlx's wrapping, and what
/// to check where the cause is a common setup mistake.
pub fn in_words(cause: &(dyn std::error::Error + 'static)) -> String {
    if let Some(error) = cause.downcast_ref::<sqlx::migrate::MigrateError>() {
        return match error {
            sqlx::migrate::MigrateError::Execute(error) => sqlx_in_words(error),
            other => other.to_string(),
        };
    }
    match cause.downcast_ref::<sqlx::Error>() {
        Some(error) => sqlx_in_words(error),
        None => cause.to_string(),
    }
}

fn sqlx_in_words(error: &sqlx::Error) -> String {
    use std::io::ErrorKind;
    match error {
        sqlx::Error::Database(db) => {
            let advice = match db.code().as_deref() {
                Some("3D000") => " (create it, or name an existing database in DATABASE_URL)",
                Some("28000" | "28P01") => " (check the user and password in DATABASE_URL)",
                Some("42501") => {
                    " (the role needs to own the database, or CREATE on it, to migrate)"
                }
                Some("53300") => {
                    " (the server has no connection left; lower CALLSIGN_DB_MAX_CONNECTIONS or raise its max_connections)"
                }
                _ => "",
            };
            format!("{}{advice}", db.message())
        }
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => {
                "connection refused: nothing listens at that address and port".into()
            }
            ErrorKind::TimedOut => "the connection timed out".into(),
            ErrorKind::NotFound | ErrorKind::PermissionDenied => format!("{io}"),
            _ => format!("connection failed: {io}"),
        },
        sqlx::Error::Tls(tls) => format!("TLS to the database failed: {tls}"),
        sqlx::Error::PoolTimedOut => {
            "no database connection within CALLSIGN_DB_ACQUIRE_TIMEOUT_MS".into()
        }
        sqlx::Error::PoolClosed => "the connection pool is closed (shutting down)".into(),
        sqlx::Error::Configuration(configuration) => {
            format!("the database URL is invalid: {configuration}")
        }
        other => other.to_string(),
    }
}
