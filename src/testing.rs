//! The use cases wired together over a private in-memory SQLite store and a [`MockClock`]: real
//! SQL in milliseconds, time that moves only when a test moves it.

use std::sync::Arc;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::audit::Audit;
use crate::clock::MockClock;
use crate::identity::{Identities, IdentityStores, IssueLog};
use crate::ids::ResourceId;
use crate::keys::{KeyService, MasterKey};
use crate::revocation::RevocationCache;
use crate::store::RefreshLimits;
use crate::store::SqliteStore;
use crate::token::{Lifetime, ScopeSet, TokenAuthority, TokenRequest};
use crate::users::{AppPolicy, AppUserStores, AppUsers, Sessions};

pub const START: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);

pub struct Fixture {
    pub audit: Arc<Audit>,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<MockClock>,
    pub keys: Arc<KeyService>,
    pub tokens: Arc<TokenAuthority>,
    pub revocations: Arc<RevocationCache>,
    pub issue_log: Arc<IssueLog>,
    pub identities: Arc<Identities>,
    pub users: Arc<AppUsers>,
    pub sessions: Sessions,
}

/// Refresh tokens idle for 14 days, or in a family older than 90 days, expire.
pub const REFRESH: RefreshLimits = RefreshLimits {
    idle_ms: 14 * 24 * 3600 * 1000,
    absolute_ms: 90 * 24 * 3600 * 1000,
};

impl Fixture {
    pub async fn new() -> Self {
        let store = Arc::new(SqliteStore::in_memory().await.expect("in-memory store"));
        let clock = Arc::new(MockClock::new(START));
        let (audit, writer) = Audit::new(store.clone(), clock.clone());
        tokio::spawn(writer.run(tokio_util::sync::CancellationToken::new()));
        let (keys, _) = KeyService::bootstrap(
            store.clone(),
            MasterKey::generate().into(),
            None,
            clock.clone(),
            audit.clone(),
        )
        .await
        .expect("key ring");
        let keys = Arc::new(keys);
        let tokens = Arc::new(TokenAuthority::new(
            keys.ring().clone(),
            ResourceId::parse("test-resource").expect("resource id"),
            "https://callsign.test/".into(),
        ));
        let revocations = Arc::new(RevocationCache::new());
        let issue_log = Arc::new(IssueLog::new());
        let identities = Arc::new(Identities::new(
            IdentityStores {
                identities: store.clone(),
                revocations: store.clone(),
            },
            tokens.clone(),
            revocations.clone(),
            issue_log.clone(),
            clock.clone(),
            audit.clone(),
        ));
        let policy = AppPolicy {
            scopes: ScopeSet::parse(&["chat", "voip"]).expect("scopes"),
            guests: None,
            refresh: REFRESH,
            open_registration: false,
        };
        let users = Arc::new(AppUsers::new(
            AppUserStores {
                users: store.clone(),
                mapping: store.clone(),
                refresh: store.clone(),
            },
            identities.clone(),
            keys.ring().clone(),
            Arc::new(policy),
            clock.clone(),
        ));
        let sessions = Sessions::new(users.clone(), clock.clone());
        Fixture {
            store,
            audit,
            clock,
            keys,
            tokens,
            revocations,
            issue_log,
            identities,
            users,
            sessions,
        }
    }

    /// An app user with a built-in account (its password hash is not a real one).
    pub async fn app_user(&self, name: &str) -> crate::ids::AppUserId {
        use crate::store::AppUserStore;
        let id = crate::ids::AppUserId::generate();
        assert!(
            self.store
                .create_account(id.uuid(), name, name, "not-a-hash", 0)
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
