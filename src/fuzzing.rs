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

use crate::auth::backend::BackendPolicy;
use crate::auth::oidc::{BearerAuthority, JwksVerifier, OidcSettings};
use crate::clock::millis;
use crate::clock::{MockClock, SharedClock};
use crate::http::{AppState, HttpSettings, Surface, router};
use crate::keys::{
    AccessKey, KeyRing, KeyService, KeySlot, MasterKey, RingState, SigningKey, SigningKeyState,
    TokenAlgorithm,
};
use crate::services::{Blueprint, Services};
use crate::store::{RefreshLimits, SqliteStore};
use crate::token::{Lifetime, ScopeSet, TokenAuthority};
use crate::users::{AppPolicy, GuestPolicy, PasswordPolicy, Passwords};
use crate::vocabulary::ResourceId;

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
            SigningKey::new(
                kid.into(),
                slot,
                state,
                now_ms - hour_ms,
                TokenAlgorithm::Hs256,
                secret,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
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
        let clock: SharedClock = Arc::new(MockClock::new(NOW));
        let scopes = ScopeSet::parse(&["chat", "voip"]).map_err(anyhow::Error::msg)?;
        let blueprint = Blueprint {
            resource: ResourceId::parse(RESOURCE).map_err(anyhow::Error::msg)?,
            endpoint: format!("https://{HOST}/"),
            master: MasterKey::generate().into(),
            seed: None,
            policy: AppPolicy {
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
                password: PasswordPolicy::default(),
                password_reset_minutes: 60,
            },
            passwords: Passwords::new(1, 1)?,
            tokens_per_identity: 0,
            token_algorithm: crate::keys::TokenAlgorithm::Hs256,
            event_algorithm: crate::keys::KeyAlgorithm::Es256,
            signals: crate::signals::SignalSettings::default(),
            audit_file: None,
        };
        let built = Services::build(blueprint, store, clock.clone()).await?;
        let stop = CancellationToken::new();
        tokio::spawn(built.audit_writer.run(stop.clone()));
        let keys = built.services.keys.clone();
        let settings = HttpSettings {
            oidc: Some(unreachable_provider(&clock, "api://app")?),
            backends: Some((
                unreachable_provider(&clock, "https://communication.azure.com")?,
                Arc::new(BackendPolicy {
                    clients: vec!["backend".into()],
                    roles: vec![],
                    admin_roles: vec![],
                    ..BackendPolicy::default()
                }),
            )),
            key_routes: true,
            ..HttpSettings::default()
        };
        let state = AppState::new(built.services, settings);
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
