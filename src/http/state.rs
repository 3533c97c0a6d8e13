//! What the routes share: the [`Services`] and the HTTP surface's own settings, behind one
//! reference count. Handlers take the whole [`AppState`]; the layers and extractors in front of
//! them take only their part ([`FromRef`] sub-states: the trusted proxies, the limits, the
//! backend gate, the app's identity provider).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::HeaderValue;

use super::backend_auth::BackendGate;
use super::bearer::AppProvider;
use super::client_address::TrustedProxies;
use super::rate_limits::RequestLimits;
use crate::auth::backend::BackendPolicy;
use crate::auth::oidc::BearerAuthority;
use crate::auth::org_users::OrgGate;
use crate::readiness::Readiness;
use crate::services::Services;

/// The HTTP surface's settings, besides the services.
#[derive(Default)]
pub struct HttpSettings {
    /// The app's identity provider, when app users sign in with its bearer tokens.
    pub oidc: Option<BearerAuthority>,
    /// The organisation's identity provider, when backends may call with its bearer tokens.
    pub backends: Option<(BearerAuthority, Arc<BackendPolicy>)>,
    /// The organisation-user exchange, when its users' tokens may be exchanged.
    pub org_users: Option<Arc<OrgGate>>,
    /// The database's readiness as the last resync found it.
    pub readiness: Arc<Readiness>,
    /// How long `/readyz` stays ready, serving from memory, while the database is unreachable.
    pub ready_without_database: Duration,
    /// How long audit events are kept; zero: forever.
    pub audit_retention: Duration,
    /// Requests per second per authenticated caller; 0: no limit.
    pub per_caller_per_second: u32,
    /// Requests per minute per client address on the routes anyone may call; 0: no limit.
    pub per_address_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Origins browsers may call from (CORS); empty: none.
    pub cors_origins: Vec<HeaderValue>,
    /// The Prometheus recorder, unless metrics are off.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Whether `/keys` and `/keys/:regenerate` are served (`CALLSIGN_KEY_ADMIN=api`).
    pub key_routes: bool,
    /// The `Host` access-key signatures must be for; `None`: any.
    pub signed_host: Option<String>,
}

/// What handlers share: one reference-counted value, so the clone every layer and handler
/// takes is a single counter increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The services and settings behind [`AppState`].
pub struct Shared {
    pub services: Services,
    pub oidc: AppProvider,
    pub backend_gate: Arc<BackendGate>,
    /// The organisation-user exchange; `None`: off.
    pub org_users: Option<Arc<OrgGate>>,
    pub readiness: Arc<Readiness>,
    pub ready_without_database: Duration,
    pub audit_retention: Duration,
    pub limits: Arc<RequestLimits>,
    pub trusted_proxies: Arc<TrustedProxies>,
    pub cors_origins: Arc<Vec<HeaderValue>>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub key_routes: bool,
}

impl AppState {
    pub fn new(services: Services, settings: HttpSettings) -> Self {
        let limits = Arc::new(RequestLimits::new(
            settings.per_caller_per_second,
            settings.per_address_per_minute,
            services.clock.clone(),
        ));
        let backend_gate = Arc::new(BackendGate {
            ring: services.keys.ring().clone(),
            backends: settings.backends,
            clock: services.clock.clone(),
            limits: limits.clone(),
            signed_host: settings.signed_host,
        });
        AppState(Arc::new(Shared {
            oidc: AppProvider(settings.oidc.map(Arc::new)),
            backend_gate,
            org_users: settings.org_users,
            readiness: settings.readiness,
            ready_without_database: settings.ready_without_database,
            audit_retention: settings.audit_retention,
            limits,
            trusted_proxies: Arc::new(settings.trusted_proxies),
            cors_origins: Arc::new(settings.cors_origins),
            metrics: settings.metrics,
            key_routes: settings.key_routes,
            services,
        }))
    }
}

impl Shared {
    /// Every identity provider's authority (a shared verifier may appear twice).
    pub fn bearer_authorities(&self) -> impl Iterator<Item = &BearerAuthority> {
        let app = self.oidc.0.iter().map(AsRef::as_ref);
        let backends = self
            .backend_gate
            .backends
            .iter()
            .map(|(authority, _)| authority);
        let org_users = self.org_users.iter().map(|gate| &gate.authority);
        app.chain(backends).chain(org_users)
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Arc<TrustedProxies> {
    fn from_ref(state: &AppState) -> Self {
        state.trusted_proxies.clone()
    }
}

impl FromRef<AppState> for Arc<RequestLimits> {
    fn from_ref(state: &AppState) -> Self {
        state.limits.clone()
    }
}

impl FromRef<AppState> for Arc<BackendGate> {
    fn from_ref(state: &AppState) -> Self {
        state.backend_gate.clone()
    }
}

impl FromRef<AppState> for AppProvider {
    fn from_ref(state: &AppState) -> Self {
        state.oidc.clone()
    }
}
