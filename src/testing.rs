//! The use cases wired together over a private in-memory SQLite store and a [`MockClock`]: real
//! SQL in milliseconds, time that moves only when a test moves it.

use std::sync::Arc;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::clock::MockClock;
use crate::keys::MasterKey;
use crate::services::{Blueprint, Services};
use crate::store::RefreshLimits;
use crate::store::SqliteStore;
use crate::token::{Lifetime, ScopeSet, TokenRequest};
use crate::users::{AppPolicy, GuestPolicy, PasswordPolicy, Passwords};
use crate::vocabulary::ResourceId;

pub const START: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);

/// The services, with the store and the clock as their own types so a test can reach past the
/// services' view of them.
pub struct Fixture {
    pub services: Services,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<MockClock>,
}

impl std::ops::Deref for Fixture {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// Refresh tokens idle for 14 days, or in a family older than 90 days, expire.
pub const REFRESH: RefreshLimits = RefreshLimits {
    idle_ms: 14 * 24 * 3600 * 1000,
    absolute_ms: 90 * 24 * 3600 * 1000,
};

/// The deployment the fixture stands for: chat and voip for app users, no guests.
fn policy() -> AppPolicy {
    AppPolicy {
        scopes: ScopeSet::parse(&["chat", "voip"]).expect("scopes"),
        guests: None,
        refresh: REFRESH,
        open_registration: false,
        password: PasswordPolicy::default(),
        password_reset_minutes: 60,
    }
}

impl Fixture {
    /// The services, with the audit writer running.
    pub async fn new() -> Self {
        Self::running(policy()).await
    }

    /// [`Fixture::new`] with guests on: `chat.join` tokens for an hour.
    pub async fn with_guests() -> Self {
        Self::running(AppPolicy {
            guests: Some(GuestPolicy {
                scopes: ScopeSet::parse(&["chat.join"]).expect("scopes"),
                lifetime: Lifetime::from_minutes(Some(60)).expect("lifetime"),
                per_minute: 1_000,
            }),
            ..policy()
        })
        .await
    }

    async fn running(policy: AppPolicy) -> Self {
        let (fixture, audit_writer) = Self::build(policy).await;
        tokio::spawn(audit_writer.run(tokio_util::sync::CancellationToken::new()));
        fixture
    }

    /// The services, and the audit writer for the test to run (or not: the trail then fills).
    pub async fn with_audit_writer_stopped() -> (Self, crate::audit::AuditWriter) {
        Self::build(policy()).await
    }

    async fn build(policy: AppPolicy) -> (Self, crate::audit::AuditWriter) {
        let store = Arc::new(SqliteStore::in_memory().await.expect("in-memory store"));
        let clock = Arc::new(MockClock::new(START));
        let blueprint = Blueprint {
            resource: ResourceId::parse("test-resource").expect("resource id"),
            endpoint: "https://callsign.test/".into(),
            master: MasterKey::generate().into(),
            seed: None,
            policy,
            passwords: Passwords::new(1, 1).expect("password hashing"),
            tokens_per_identity: 0,
            token_algorithm: crate::keys::TokenAlgorithm::Hs256,
            event_algorithm: crate::keys::KeyAlgorithm::Es256,
            signals: crate::signals::SignalSettings::default(),
            audit_file: None,
        };
        let built = Services::build(blueprint, store.clone(), clock.clone())
            .await
            .expect("services");
        let fixture = Fixture {
            services: built.services,
            store,
            clock,
        };
        (fixture, built.audit_writer)
    }

    /// An app user with a built-in account (its password hash is not a real one).
    pub async fn app_user(&self, name: &str) -> crate::vocabulary::AppUserId {
        use crate::store::AppUserStore;
        let id = crate::vocabulary::AppUserId::generate();
        assert!(
            self.store
                .create_account(id, name, name, "not-a-hash", 0)
                .await
                .expect("account")
        );
        id
    }

    /// Whether `token` verifies now, on the fixture's clock.
    pub fn is_active(&self, token: &str) -> bool {
        use crate::clock::Clock;
        self.tokens
            .verify(token, &self.revocations, self.clock.now())
            .is_ok()
    }
}

/// A one-hour `chat` token request.
pub fn chat_request() -> TokenRequest {
    TokenRequest {
        scopes: ScopeSet::parse(&["chat"]).expect("scope"),
        lifetime: Lifetime::from_minutes(Some(60)).expect("lifetime"),
    }
}
