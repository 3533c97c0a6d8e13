//! The use cases wired together over a private in-memory SQLite store and a [`MockClock`]: real
//! SQL in milliseconds, time that moves only when a test moves it.

use std::sync::Arc;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::clock::MockClock;
use crate::identity::{Identities, IdentityStores, IssueLog};
use crate::ids::ResourceId;
use crate::keys::{KeyService, MasterKey};
use crate::revocation::RevocationCache;
use crate::store::SqliteStore;
use crate::token::{Lifetime, ScopeSet, TokenAuthority, TokenRequest};

pub const START: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);

pub struct Fixture {
    pub store: Arc<SqliteStore>,
    pub clock: Arc<MockClock>,
    pub keys: Arc<KeyService>,
    pub tokens: Arc<TokenAuthority>,
    pub revocations: Arc<RevocationCache>,
    pub issue_log: Arc<IssueLog>,
    pub identities: Identities,
}

impl Fixture {
    pub async fn new() -> Self {
        let store = Arc::new(SqliteStore::in_memory().await.expect("in-memory store"));
        let clock = Arc::new(MockClock::new(START));
        let (keys, _) =
            KeyService::bootstrap(store.clone(), MasterKey::generate(), None, clock.clone())
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
        let identities = Identities::new(
            IdentityStores {
                identities: store.clone(),
                revocations: store.clone(),
            },
            tokens.clone(),
            revocations.clone(),
            issue_log.clone(),
            clock.clone(),
        );
        Fixture {
            store,
            clock,
            keys,
            tokens,
            revocations,
            issue_log,
            identities,
        }
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
