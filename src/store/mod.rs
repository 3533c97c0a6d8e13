//! The storage seam: one [`Store`] trait, implemented for PostgreSQL (production) and SQLite
//! (the embedded default). The domain speaks to storage only through this trait; each backend
//! owns its SQL and its migrations (`migrations/postgres`, `migrations/sqlite`).

/// `SELECT <identity columns> FROM identities WHERE <condition>`, as a literal (sqlx wants
/// statically known SQL).
macro_rules! select_identity_where {
    ($condition:literal) => {
        concat!(
            "SELECT id, external_id, created_at_ms, last_token_issued_at_ms ",
            "FROM identities WHERE ",
            $condition
        )
    };
}

/// SQL both backends run unchanged (SQLite accepts `$n` placeholders).
mod sql {
    pub const INIT_SETTING: &str =
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    pub const SELECT_SETTING: &str = "SELECT value FROM settings WHERE name = $1";
    pub const REVOKE_TOKENS: &str = "UPDATE identities SET tokens_revoked_before_ms = \
         CASE WHEN tokens_revoked_before_ms > $2 THEN tokens_revoked_before_ms ELSE $2 END \
         WHERE id = $1";
    pub const REVOCATIONS_SINCE: &str = "SELECT id, tokens_revoked_before_ms AS before_ms, 0 AS deleted FROM identities \
           WHERE tokens_revoked_before_ms > $1 \
         UNION ALL \
         SELECT id, deleted_at_ms, 1 FROM identity_tombstones WHERE deleted_at_ms > $1";
    pub const DELETE_IDENTITY: &str = "DELETE FROM identities WHERE id = $1";
    pub const INSERT_TOMBSTONE: &str =
        "INSERT INTO identity_tombstones (id, deleted_at_ms) VALUES ($1, $2)";
    pub const PURGE_TOMBSTONES: &str = "DELETE FROM identity_tombstones WHERE deleted_at_ms < $1";
    pub const SELECT_ACTIVE_KEYS: &str = "SELECT kid, slot, access_key_sealed, signing_key_sealed, created_at_ms \
         FROM keys WHERE revoked_at_ms IS NULL ORDER BY slot";
    pub const INSERT_KEY: &str = "INSERT INTO keys (kid, slot, access_key_sealed, signing_key_sealed, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)";
    pub const INSERT_KEY_IF_FREE: &str = "INSERT INTO keys (kid, slot, access_key_sealed, signing_key_sealed, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
    pub const RETIRE_ACTIVE_KEY: &str =
        "UPDATE keys SET revoked_at_ms = $2 WHERE slot = $1 AND revoked_at_ms IS NULL";
}

/// Binds a [`KeyRecord`]'s columns in `sql::INSERT_KEY*` order.
macro_rules! bind_key {
    ($query:expr, $key:expr) => {
        $query
            .bind(&$key.kid)
            .bind(&$key.slot)
            .bind(&$key.access_key_sealed)
            .bind(&$key.signing_key_sealed)
            .bind($key.created_at_ms)
    };
}

mod error;
mod postgres;
mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::changes::Change;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A communication identity as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub created_at_ms: i64,
    pub last_token_issued_at_ms: Option<i64>,
}

/// The outcome of creating an identity: created now, or already there under the same external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(IdentityRecord),
    Existing(IdentityRecord),
}

/// Revocation state of one identity, as the in-memory caches need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationRow {
    /// Tokens issued at or before `before_ms` are revoked.
    Revoked {
        id: Uuid,
        before_ms: i64,
    },
    Deleted {
        id: Uuid,
    },
}

impl RevocationRow {
    /// A row of `sql::REVOCATIONS_SINCE`: `deleted` is 1 for a tombstone.
    fn from_columns(id: Uuid, deleted: i32, before_ms: i64) -> Self {
        if deleted == 1 {
            RevocationRow::Deleted { id }
        } else {
            RevocationRow::Revoked { id, before_ms }
        }
    }
}

/// One access key with its paired token-signing key, both sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    /// `primary` or `secondary`.
    pub slot: String,
    pub access_key_sealed: Vec<u8>,
    pub signing_key_sealed: Vec<u8>,
    pub created_at_ms: i64,
}

/// What a change feed yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    Change(Change),
    /// The feed lost its connection: changes may have been missed, resynchronise.
    Gap,
}

/// A live feed of changes committed by any instance.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    async fn next(&mut self) -> FeedEvent;
}

/// Durable state of the service. A returned `Ok` means committed.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Reachable and fully migrated.
    async fn check_ready(&self) -> Result<(), StoreError>;

    /// Returns the stored value of a setting, storing `proposed` first if there is none.
    async fn setting_or_init(&self, name: &str, proposed: &str) -> Result<String, StoreError>;

    /// Creates an identity; with an external id, returns the existing identity if there is one.
    async fn create_identity(
        &self,
        id: Uuid,
        external_id: Option<&str>,
        now_ms: i64,
    ) -> Result<Created, StoreError>;
    async fn find_identity(&self, id: Uuid) -> Result<Option<IdentityRecord>, StoreError>;
    /// Revokes the identity's tokens issued at or before `before_ms` (never moving an earlier
    /// cut-off back); `false` if it does not exist.
    async fn revoke_tokens(&self, id: Uuid, before_ms: i64) -> Result<bool, StoreError>;
    /// Erases the identity, leaving a tombstone; `false` if it did not exist.
    async fn delete_identity(&self, id: Uuid, now_ms: i64) -> Result<bool, StoreError>;
    /// Records when identities last got a token (batched, off the issuing path).
    async fn record_tokens_issued(&self, issued: &[(Uuid, i64)]) -> Result<(), StoreError>;
    /// Revocations and deletions that happened after `since_ms`.
    async fn revocations_since(&self, since_ms: i64) -> Result<Vec<RevocationRow>, StoreError>;
    /// Forgets tombstones older than `before_ms`; returns how many.
    async fn purge_tombstones(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// The active key of each slot.
    async fn active_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Stores the first keys of an empty ring; `false` if another instance got there first.
    async fn insert_initial_keys(&self, keys: &[KeyRecord]) -> Result<bool, StoreError>;
    /// Retires the active key of `key.slot` and makes `key` the active one, atomically.
    async fn replace_key(&self, key: &KeyRecord, now_ms: i64) -> Result<(), StoreError>;

    /// A feed of other instances' changes, where the backend has one (PostgreSQL).
    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError>;
}

/// Connection settings shared by both backends.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// Opens the store a `postgres://` or `sqlite://` URL names. Connections are lazy: the service
/// starts while the database is down and becomes ready when it appears.
pub async fn open(url: &str, options: &PoolOptions) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(PgStore::open(url, options)?))
    } else if url.starts_with("sqlite:") {
        Ok(Box::new(SqliteStore::open(url, options).await?))
    } else {
        Err(StoreError::Config(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}
