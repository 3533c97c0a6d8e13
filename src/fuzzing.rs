//! The whole application for the fuzz targets in `fuzz/` (run by `scripts/fuzz`); not part of
//! Callsign's API. Wired as a deployment with every route on (app-user and backend identity
//! providers, guests, open registration) over a private in-memory SQLite store and a clock that
//! never moves, so a fuzzer drives the real router, extractors, handlers and SQL in process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio_util::sync::CancellationToken;

use crate::audit::Audit;
use crate::auth::backend::BackendPolicy;
use crate::auth::oidc::{BearerAuthority, JwksVerifier, OidcSettings};
use crate::clock::millis;
use crate::clock::{MockClock, SharedClock};
use crate::http::{AppState, RequestLimits, Shared, Surface, router};
use crate::identity::{Identities, IdentityStores, IssueLog};
use crate::ids::ResourceId;
use crate::keys::{
    AccessKey, KeyRing, KeyService, KeySlot, MasterKey, RingState, SigningKey, SigningKeyState,
};
use crate::revocation::RevocationCache;
use crate::store::{RefreshLimits, SqliteStore};
use crate::token::{Lifetime, ScopeSet, TokenAuthority};
use crate::users::{
    Accounts, AppPolicy, AppUserStores, AppUsers, GuestPolicy, Guests, Passwords, Sessions,
};

/// The app's clock: it never moves, so a signed request's date is always `NOW`.
pub const NOW: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);
/// The host requests are signed for.
pub const HOST: &str = "callsign.test";
/// The deployment's resource id: identity ids are `8:acs:fuzz-resource_<uuid>`.
pub const RESOURCE: &str = "fuzz-resource";

/// The `kid`s of [`token_authority`]'s signing keys: the valid keys of both slots, a retained key
/// that still verifies and one whose time is up.
pub const SIGNING_KIDS: [&str; 4] = [
    "fuzz-primary",
    "fuzz-secondary",
    "fuzz-retained",
    "fuzz-expired",
];

/// A token authority over fixed signing keys, so a token minted once (a seed of the fuzz
/// corpus) verifies in every run at [`NOW`].
pub fn token_authority() -> anyhow::Result<TokenAuthority> {
    let now_ms = millis(NOW);
    let hour_ms = 3600 * 1000;
    let [primary, secondary, retained, expired] = SIGNING_KIDS;
    let signing = [
        (primary, KeySlot::Primary, SigningKeyState::Valid),
        (secondary, KeySlot::Secondary, SigningKeyState::Valid),
        (
            retained,
            KeySlot::Primary,
            SigningKeyState::Retained {
                until_ms: now_ms + hour_ms,
            },
        ),
        (
            expired,
            KeySlot::Primary,
            SigningKeyState::Retained { until_ms: now_ms },
        ),
    ];
    let signing = signing
        .into_iter()
        .zip(0u8..)
        .map(|((kid, slot, state), seed)| {
            let secret = (0..32).map(|i| i * 7 + seed).collect();
            SigningKey::new(kid.into(), slot, state, now_ms - hour_ms, secret)
        })
        .collect();
    let access = vec![
        AccessKey::generate(KeySlot::Primary, now_ms)?,
        AccessKey::generate(KeySlot::Secondary, now_ms)?,
    ];
    Ok(TokenAuthority::new(
        Arc::new(KeyRing::new(RingState::new(access, signing)?)),
        ResourceId::parse(RESOURCE).map_err(anyhow::Error::msg)?,
        format!("https://{HOST}/"),
    ))
}

/// The router and the key service whose access keys sign requests to it.
pub struct FuzzApp {
    pub router: Router,
    pub keys: Arc<KeyService>,
    /// Stops the audit writer.
    pub stop: CancellationToken,
}

impl FuzzApp {
    /// Builds the application. Call inside a Tokio runtime that keeps being driven: the audit
    /// writer runs on it.
    pub async fn new() -> anyhow::Result<Self> {
        let store = Arc::new(SqliteStore::in_memory().await?);
        let clock = Arc::new(MockClock::new(NOW));
        let shared: SharedClock = clock.clone();
        let (audit, writer) = Audit::new(store.clone(), shared.clone());
        let stop = CancellationToken::new();
        tokio::spawn(writer.run(stop.clone()));
        let (keys, _) = KeyService::bootstrap(
            store.clone(),
            MasterKey::generate().into(),
            None,
            shared.clone(),
            audit.clone(),
        )
        .await?;
        let keys = Arc::new(keys);
        let tokens = Arc::new(TokenAuthority::new(
            keys.ring().clone(),
            ResourceId::parse(RESOURCE).map_err(anyhow::Error::msg)?,
            format!("https://{HOST}/"),
        ));
        let revocations = Arc::new(RevocationCache::new());
        let identities = Arc::new(Identities::new(
            IdentityStores {
                identities: store.clone(),
                revocations: store.clone(),
            },
            tokens.clone(),
            revocations.clone(),
            Arc::new(IssueLog::new()),
            shared.clone(),
            audit.clone(),
        ));
        let scopes = ScopeSet::parse(&["chat", "voip"]).map_err(anyhow::Error::msg)?;
        let policy = Arc::new(AppPolicy {
            scopes: scopes.clone(),
            guests: Some(GuestPolicy {
                scopes,
                lifetime: Lifetime::DEFAULT,
                per_minute: 1_000_000,
            }),
            refresh: RefreshLimits {
                idle_ms: 14 * 24 * 3600 * 1000,
                absolute_ms: 90 * 24 * 3600 * 1000,
            },
            open_registration: true,
        });
        let users = Arc::new(AppUsers::new(
            AppUserStores {
                users: store.clone(),
                mapping: store.clone(),
                refresh: store.clone(),
            },
            identities.clone(),
            keys.ring().clone(),
            policy.clone(),
            shared.clone(),
        ));
        let state = AppState::new(Shared {
            identities,
            keys: keys.clone(),
            tokens,
            revocations,
            store: store.clone(),
            users: users.clone(),
            accounts: Arc::new(Accounts::new(
                store,
                Passwords::new(1, 1)?,
                shared.clone(),
                audit.clone(),
            )),
            sessions: Arc::new(Sessions::new(users.clone(), shared.clone())),
            guests: Arc::new(Guests::new(users, policy.guests.as_ref(), shared.clone())),
            oidc: Some(unreachable_provider(&shared, "api://app")?),
            backends: Some((
                unreachable_provider(&shared, "https://communication.azure.com")?,
                Arc::new(BackendPolicy {
                    clients: vec!["backend".into()],
                    roles: vec![],
                    admin_roles: vec![],
                    ..BackendPolicy::default()
                }),
            )),
            audit,
            audit_retention: Duration::ZERO,
            clock_skew: Arc::new(crate::clock_skew::ClockSkew::new(Duration::from_millis(20))),
            readiness: Arc::default(),
            limits: Arc::new(RequestLimits::new(0, 0, shared.clone())),
            trusted_proxies: Arc::default(),
            cors_origins: Arc::default(),
            metrics: None,
            endpoint: format!("https://{HOST}/"),
            key_routes: true,
            signed_host: None,
            clock: shared,
        });
        Ok(FuzzApp {
            router: router(state, Surface::ApiAndMetrics),
            keys,
            stop,
        })
    }

    /// The current secret of an access key (a fuzzed request may regenerate it).
    pub fn access_key(&self, slot: KeySlot) -> Vec<u8> {
        self.keys.ring().load().access_key(slot).secret().to_vec()
    }
}

/// An identity provider on a closed loopback port: a bearer token whose key must be fetched
/// meets an unreachable provider, as in an outage.
fn unreachable_provider(clock: &SharedClock, audience: &str) -> anyhow::Result<BearerAuthority> {
    let settings = OidcSettings {
        issuer: "http://127.0.0.1:9/idp".into(),
        jwks_url: Some("http://127.0.0.1:9/idp/jwks".into()),
        refetch_cooldown: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(86_400),
    };
    Ok(BearerAuthority {
        verifier: Arc::new(JwksVerifier::new(settings, clock.clone()).map_err(anyhow::Error::msg)?),
        audience: audience.into(),
    })
}
