//! Builds the application from configuration and runs it: store, key ring, caches, background
//! propagation, router, TLS listener, graceful shutdown. [`app_users`] turns the app-user
//! settings into their domain policy and identity-provider verifier.

mod app_users;
mod endpoint;
mod keys;
pub mod preflight;
mod serve;

pub use app_users::app_policy;
use app_users::identity_providers;
pub use endpoint::public_endpoint;
use endpoint::signed_host;
use keys::seed_keys;
pub use keys::{key_service, master_key, master_keys};
pub use serve::shutdown_signal;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::audit::{Audit, AuditWriter, JsonLinesFile};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, KeyAdmin, Metrics, TlsMode};
use crate::http::{self, AppState, HttpSettings, connection_string};
use crate::keys::{Bootstrap, KeySlot};
use crate::propagation::Propagation;
use crate::revocation::RevocationCache;
use crate::services::{Blueprint, Built, Services};
use crate::store::{self, PoolOptions, Store, StoreError};
use crate::tls::{self, TlsSource};
use crate::token::{Lifetime, ScopeSet, TokenAuthority, TokenRequest};
use crate::users::Passwords;
use crate::vocabulary::{IdentityId, ResourceId};

/// A built, bound, not yet serving application.
pub struct Application {
    listener: TcpListener,
    /// The separate listener for the ops routes, when configured.
    ops_listener: Option<TcpListener>,
    state: AppState,
    tls: Option<tls::Tls>,
    propagation: Propagation,
    audit_writer: AuditWriter,
    /// What the main listener serves besides the API.
    surface: http::Surface,
    /// Set when this start generated the access keys: shown to the operator once.
    pub generated_keys: bool,
}

/// Opens and migrates the store, waiting for the database up to the configured time. Every
/// command starts here, so the data directory is secured first. The database's migration
/// history is read before anything is written: one migrated by a newer build is refused as it is.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    secure_data_dir(&config.data_dir);
    let url = config.database_url()?;
    let location = store::locate(&url)?;
    let options = PoolOptions {
        max_connections: config.db_max_connections,
        acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
    };
    // Connects lazily; a SQLite file is created here, or refused if it cannot be written.
    let store: Arc<dyn Store> = store::open(&url, &options).await?.into();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.startup_timeout_secs);
    let mut attempts = 0u32;
    loop {
        match store::inspect(&url, Duration::from_secs(5)).await {
            Ok(schema) => match schema.refusal() {
                Some(refusal) => bail!("{}: {refusal}", location.described),
                None => break,
            },
            Err(StoreError::Unavailable(cause)) if tokio::time::Instant::now() < deadline => {
                // Once, then every ten seconds: the wait is the news, not each try.
                if attempts.is_multiple_of(10) {
                    tracing::warn!(
                        database = %location.described,
                        error = %store::in_words(cause.as_ref()),
                        "database unreachable; waiting for it (CALLSIGN_STARTUP_TIMEOUT_SECS)"
                    );
                }
                attempts += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => bail!("cannot use the {}: {error}", location.described),
        }
    }
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(store),
            // Gone again between the look and the migration: wait for it as before.
            Err(StoreError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot migrate the {}", location.described));
            }
        }
    }
}

/// The data directory holds the master key, the TLS key and the SQLite database. One left open
/// to group or others (made by hand, or by an image build, with the usual `0755`) is made
/// owner-only, as Callsign makes the one it creates. Where that is not allowed (a volume owned
/// by another user, as with a Kubernetes `fsGroup`), start-up goes on with a warning: what
/// Callsign writes there is owner-only by itself.
fn secure_data_dir(dir: &Path) {
    match crate::private_files::tighten_dir(dir) {
        Ok(None) => {}
        Ok(Some(was)) => tracing::warn!(
            dir = %dir.display(),
            was = %format_args!("{was:04o}"),
            "the data directory was open to group or others; made it owner-only (0700)"
        ),
        Err(error) => tracing::warn!(
            dir = %dir.display(),
            %error,
            "could not check or make the data directory owner-only; run `chmod 700` on it"
        ),
    }
}

async fn resource_id(config: &Config, store: &dyn Store) -> anyhow::Result<ResourceId> {
    let proposed = match &config.resource_id {
        Some(raw) => ResourceId::parse(raw).map_err(anyhow::Error::msg)?,
        None => ResourceId::generate(),
    };
    let stored = store
        .setting_or_init("resource_id", proposed.as_str())
        .await?;
    if config.resource_id.is_some() && stored != proposed.as_str() {
        bail!(
            "CALLSIGN_RESOURCE_ID is '{proposed}' but this database belongs to resource '{stored}'; \
             identity ids embed it, so it cannot change"
        );
    }
    ResourceId::parse(&stored).map_err(anyhow::Error::msg)
}

/// Mints and verifies one token per signing key, so a broken crypto setup fails at start, not
/// on a request.
fn self_test(
    tokens: &TokenAuthority,
    revocations: &RevocationCache,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    let request = TokenRequest {
        scopes: ScopeSet::parse(&["chat"]).map_err(anyhow::Error::msg)?,
        lifetime: Lifetime::DEFAULT,
    };
    let now = clock.now();
    let ring = tokens.ring().load();
    for key in KeySlot::BOTH.map(|slot| ring.signer(slot)) {
        let issued = tokens
            .mint(IdentityId::generate(), &request, key, now)
            .context("token self-test: signing failed")?;
        tokens
            .verify(&issued.token, revocations, now)
            .context("token self-test: verification failed")?;
    }
    Ok(())
}

impl Application {
    /// Builds the application on the wall clock.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: &Config, clock: SharedClock) -> anyhow::Result<Self> {
        // One TLS provider for the process; a second install (tests) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Before anything is created, migrated or bound.
        preflight::settings(config, preflight::Purpose::Serve)
            .await
            .into_result()?;
        crate::jwt_crypto::install().map_err(|_| {
            anyhow::anyhow!("another JWT crypto provider was installed before Callsign's")
        })?;

        // Before anything records a metric: a handle taken before the recorder is installed
        // would record nowhere for the life of the process.
        let metrics = metrics_recorder(config);
        // Listeners first: a port in use is refused before the database is created or migrated.
        let listener = bind(config.listen)?;
        let ops_listener = match config.ops_listen {
            Some(address) => Some(bind(address)?),
            None => None,
        };
        let store = open_store(config).await?;
        let tls = serve_tls(config, clock.now()).await?;
        let endpoint = public_endpoint(config, listener.local_addr()?)?;
        let settings = http_settings(config, &endpoint, metrics, &clock).await?;
        let (built, seeded) = build_services(config, store, endpoint, clock).await?;
        let services = built.services;
        self_test(&services.tokens, &services.revocations, &services.clock)?;
        let propagation = Propagation::start(
            services.store.clone(),
            services.revocations.clone(),
            services.keys.clone(),
            services.issue_log.clone(),
            services.clock.clone(),
            services.clock_skew.clone(),
            Duration::from_millis(config.resync_interval_ms.max(100)),
        )
        .await
        .context("cannot load the revocation state")?;
        if built.bootstrap == Bootstrap::Loaded && seeded {
            tracing::warn!(
                "CALLSIGN_PRIMARY_KEY/SECONDARY_KEY ignored: the stored key ring is authoritative"
            );
        }
        let settings = HttpSettings {
            readiness: propagation.readiness(),
            ..settings
        };
        let state = AppState::new(services, settings);
        // The identity providers are reached once, so their keys are at hand for the first
        // request.
        for authority in state.bearer_authorities() {
            authority.verifier.warm_up().await;
        }
        Ok(Application {
            listener,
            ops_listener,
            tls,
            propagation,
            audit_writer: built.audit_writer,
            generated_keys: built.bootstrap == Bootstrap::Generated,
            surface: match config.metrics {
                Metrics::Public => http::Surface::ApiAndMetrics,
                Metrics::Ops | Metrics::Off => http::Surface::Api,
            },
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The ops listener's address, when there is one.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn endpoint(&self) -> &str {
        &self.state.services.endpoint
    }

    /// The connection string of `slot`'s current key.
    pub fn connection_string(&self, slot: KeySlot) -> String {
        let services = &self.state.services;
        let ring = services.keys.ring().load();
        connection_string(&services.endpoint, &ring.access_key(slot).to_base64())
    }

    /// The file clients should trust, when serving a generated certificate.
    pub fn trust_file(&self) -> Option<&Path> {
        self.tls.as_ref().and_then(|tls| tls.trust_file.as_deref())
    }
}

/// The services over the configured database, for a command that acts on them: the endpoint is
/// the listener's, as `keys list` prints it.
pub async fn services(config: &Config) -> anyhow::Result<Built> {
    let store = open_store(config).await?;
    let endpoint = public_endpoint(config, config.listen)?;
    let (built, _) = build_services(config, store, endpoint, Arc::new(SystemClock)).await?;
    Ok(built)
}

/// The services over an opened store; and whether access keys were configured to seed the ring.
async fn build_services(
    config: &Config,
    store: Arc<dyn Store>,
    endpoint: String,
    clock: SharedClock,
) -> anyhow::Result<(Built, bool)> {
    let resource = resource_id(config, store.as_ref()).await?;
    let seed = seed_keys(config)?;
    let seeded = seed.is_some();
    let blueprint = Blueprint {
        resource: resource.clone(),
        endpoint,
        master: master_keys(config, store.backend())?,
        seed,
        policy: app_policy(&config.app_users)?,
        passwords: Passwords::new(
            config.app_users.password_hash_concurrency,
            config.app_users.password_hash_queue,
        )
        .context("cannot set up password hashing")?,
        tokens_per_identity: config.limits.per_identity(),
        token_algorithm: config.token_algorithm,
        event_algorithm: config.signals.ssf_algorithm,
        signals: config.signals.settings(),
        audit_file: audit_file(config, &resource)?,
    };
    let built = Services::build(blueprint, store, clock)
        .await
        .context("cannot load the key ring")?;
    Ok((built, seeded))
}

/// The HTTP surface's settings.
async fn http_settings(
    config: &Config,
    endpoint: &str,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    clock: &SharedClock,
) -> anyhow::Result<HttpSettings> {
    let idps = identity_providers(config, clock)?;
    Ok(HttpSettings {
        oidc: idps.app,
        backends: idps.backends,
        org_users: idps.org_users,
        readiness: Arc::default(),
        ready_without_database: Duration::from_secs(config.ready_without_database_secs),
        audit_retention: Duration::from_secs(config.audit_retention_days * 86_400),
        per_caller_per_second: config.limits.per_key(),
        per_address_per_minute: config.limits.per_address(),
        trusted_proxies: http::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(anyhow::Error::msg)
            .context("CALLSIGN_TRUSTED_PROXIES is invalid")?,
        cors_origins: cors_origins(&config.cors_origins)?,
        metrics,
        key_routes: config.key_admin == KeyAdmin::Api,
        signed_host: signed_host(config, endpoint),
    })
}

async fn serve_tls(config: &Config, now: time::OffsetDateTime) -> anyhow::Result<Option<tls::Tls>> {
    match config.tls.mode {
        TlsMode::Off => {
            tracing::warn!(
                "serving plain HTTP (--tls off): only behind a TLS-terminating proxy; the Azure SDKs require HTTPS"
            );
            Ok(None)
        }
        TlsMode::On => Ok(Some(tls::load(tls_source(config, now)).await?)),
    }
}

/// The Prometheus recorder, unless metrics are off. Without an ops listener and with metrics
/// not public no listener serves them; they are still recorded (the recorder is process-wide and
/// its metric handles are cached on first use, so it is installed the same way everywhere).
fn metrics_recorder(config: &Config) -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    if config.metrics == Metrics::Off {
        return None;
    }
    if config.metrics == Metrics::Ops && config.ops_listen.is_none() {
        tracing::info!(
            "metrics are not served: they are on the ops listener only; set CALLSIGN_OPS_LISTEN (or CALLSIGN_METRICS=public to serve them on the main listener)"
        );
    }
    crate::telemetry::metrics::install()
}

fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener =
        TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The CORS origins, each a scheme://host[:port] with no path.
fn cors_origins(origins: &[String]) -> anyhow::Result<Vec<axum::http::HeaderValue>> {
    origins
        .iter()
        .map(|origin| origin.trim().trim_end_matches('/'))
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && origin
                    .splitn(4, '/')
                    .nth(3)
                    .is_none_or(|path| path.is_empty());
            if !valid {
                bail!("CALLSIGN_CORS_ORIGINS: '{origin}' must be scheme://host[:port]");
            }
            axum::http::HeaderValue::from_str(origin)
                .with_context(|| format!("CALLSIGN_CORS_ORIGINS: '{origin}' is not a valid origin"))
        })
        .collect()
}

fn tls_source(config: &Config, now: time::OffsetDateTime) -> TlsSource {
    match (&config.tls.tls_cert, &config.tls.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => TlsSource::SelfSigned {
            dir: config.data_dir.join("tls"),
            names: config
                .tls
                .tls_names
                .iter()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
            now,
        },
    }
}

/// The file the audit trail goes to instead of the database, opened once now.
fn audit_file(config: &Config, resource: &ResourceId) -> anyhow::Result<Option<JsonLinesFile>> {
    config
        .audit_file
        .as_ref()
        .map(|path| {
            JsonLinesFile::open(path.clone(), resource.clone()).with_context(|| {
                format!(
                    "CALLSIGN_AUDIT_FILE: cannot open {} for appending",
                    path.display()
                )
            })
        })
        .transpose()
}

/// The audit trail of a command run against the store: to the configured file, or the store.
pub async fn command_audit(
    config: &Config,
    store: Arc<dyn Store>,
    clock: SharedClock,
) -> anyhow::Result<(Arc<Audit>, AuditWriter)> {
    let resource = resource_id(config, store.as_ref()).await?;
    let file = audit_file(config, &resource)?;
    Ok(Audit::writing_to(store, file, clock))
}
