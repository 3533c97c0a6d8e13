//! Storage errors, classified at the boundary: a database that is down is not a bug. Nothing of
//! `sqlx` leaves the store; the domain sees only this small type.

/// The underlying cause, kept for logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded right now; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Other(#[source] Cause),
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
