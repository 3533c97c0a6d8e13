//! The storage seam. One trait per aggregate, each in its own file next to its SQL and its two
//! implementations (PostgreSQL for production, SQLite as the embedded default), so where the
//! backends differ the difference is visible in one place:
//!
//! - [`IdentityStore`] (`identities.rs`): communication identities;
//! - [`GuestStore`] (`guests.rs`): guest identities, and their purge once their tokens expire;
//! - [`RevocationStore`] (`revocations.rs`): token cut-offs and deletion tombstones;
//! - [`IssueLogStore`] (`issue_log.rs`): `lastTokenIssuedAt`, written in batches;
//! - [`KeyStore`] (`keys.rs`): sealed access keys and signing keys with their states;
//! - [`SettingStore`] (`settings.rs`): deployment-wide settings fixed at first start;
//! - [`AppUserStore`] (`app_users.rs`): built-in accounts, OpenID Connect users, erasure;
//! - [`AppUserSearch`] (`user_search.rs`): app users found by name, subject, identity, time;
//! - [`PasswordResetStore`] (`password_resets.rs`): new passwords and one-time reset tokens;
//! - [`MappingStore`] (`mapping.rs`): which identities each app user holds;
//! - [`RefreshStore`] (`refresh.rs`): refresh-token families, in small transactional steps;
//! - [`UserSessionStore`] (`user_sessions.rs`): a user's sessions as it sees them, ending one;
//! - [`AuditStore`] (`audit.rs`): the audit trail;
//! - [`OutboxStore`] (`outbox.rs`): changes committed, waiting for the post-commit dispatcher;
//! - [`EventKeyStore`] (`event_keys.rs`): the keys that sign security event tokens;
//! - [`StreamStore`] (`streams.rs`): event streams and the subjects removed from them;
//! - [`StreamEventStore`] (`stream_events.rs`): the events queued for each stream.
//!
//! What the two backends do differently is the [`backend::SqlBackend`] contract.
//!
//! [`Store`] is all of them plus what concerns the database as a whole (migrations, readiness,
//! the change feed). The domain sees only these traits and [`StoreError`], never `sqlx`.

mod app_users;
mod audit;
mod audit_partitions;
mod backend;
mod checkpointer;
mod error;
mod event_keys;
mod group_commit;
mod guests;
mod identities;
mod issue_log;
mod keys;
mod mapping;
mod outbox;
mod password_resets;
mod pg_new_identities;
mod postgres;
mod refresh;
mod revocations;
mod schema;
mod settings;
mod sqlite;
mod stream_events;
mod streams;
mod user_search;
mod user_sessions;

use std::time::Duration;

use async_trait::async_trait;

pub use app_users::{AppUserRecord, AppUserStore, StoredAccount};
pub use audit::{AuditFilter, AuditRecord, AuditStore};
pub use error::{StoreError, in_words};
pub use event_keys::{EventKeyRecord, EventKeyStore};
pub use guests::GuestStore;
pub use identities::{Adopted, Created, IdentityRecord, IdentityStore};
pub use issue_log::{IssueLogStore, Issued};
pub use keys::{AccessKeyRecord, KeyStore, Resealed, SigningKeyRecord};
pub use mapping::{Linked, MappingStore};
pub use outbox::{Dispatched, OutboxStore};
pub use password_resets::PasswordResetStore;
pub use postgres::PgStore;
pub use refresh::{RefreshLimits, RefreshSteps, RefreshStore, Session, SessionOrigin, StoredToken};
pub use revocations::RevocationStore;
pub use schema::{Location, Schema, inspect, locate};
pub use settings::SettingStore;
pub use sqlite::SqliteStore;
pub use stream_events::{FanOut, MAX_QUEUED_PER_STREAM, QueueDepth, QueuedEvent, StreamEventStore};
pub use streams::{StreamRecord, StreamStore};
pub use user_search::{AppUserFilter, AppUserSearch};
pub use user_sessions::{SessionRecord, UserSessionStore};

use crate::vocabulary::Change;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
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

/// Durable state of the service: every aggregate's store, over one database. A returned `Ok`
/// means committed.
#[async_trait]
pub trait Store:
    IdentityStore
    + GuestStore
    + RevocationStore
    + IssueLogStore
    + KeyStore
    + SettingStore
    + AppUserStore
    + AppUserSearch
    + PasswordResetStore
    + MappingStore
    + RefreshStore
    + UserSessionStore
    + AuditStore
    + OutboxStore
    + EventKeyStore
    + StreamStore
    + StreamEventStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Reachable and fully migrated.
    async fn check_ready(&self) -> Result<(), StoreError>;
    /// Connections in the pool, and how many of them are idle.
    fn pool_connections(&self) -> (u32, usize);
    /// The database server's clock (unix ms), where instances on other machines share the
    /// database (PostgreSQL); `None` for SQLite, which runs on this machine's clock.
    async fn database_clock_ms(&self) -> Result<Option<i64>, StoreError>;
    /// A feed of other instances' changes, where the backend has one (PostgreSQL).
    async fn listen(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError>;
}

/// Connection settings shared by both backends.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// Opens the store a `postgres://` or `sqlite:` URL names. Connections are lazy: the service
/// starts while the database is down and becomes ready when it appears.
pub async fn open(url: &str, options: &PoolOptions) -> Result<Box<dyn Store>, StoreError> {
    match locate(url)?.backend {
        Backend::Postgres => {
            crate::telemetry::set_database_system("postgresql");
            Ok(Box::new(PgStore::open(url, options)?))
        }
        Backend::Sqlite => {
            crate::telemetry::set_database_system("sqlite");
            Ok(Box::new(SqliteStore::open(url, options).await?))
        }
    }
}
