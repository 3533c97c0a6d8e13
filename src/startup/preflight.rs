//! Every setting checked before anything is created, migrated or bound: secrets readable and
//! well-formed, addresses, URLs and networks valid, certificate files loadable, the database
//! reachable and its migrations known. `callsign config check` prints the whole report; every
//! other command runs the same checks first and stops on the first report with an error, so a
//! mistake never leaves a half-made data directory or a migrated database behind.

use std::fmt;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;

use super::app_users::identity_providers;
use super::keys::{FoundMasterKey, find_master_key, seed_keys};
use super::{app_policy, cors_origins, public_endpoint};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, TlsMode};
use crate::http::TrustedProxies;
use crate::keys::MasterKey;
use crate::store::{self, Backend};
use crate::vocabulary::ResourceId;

/// What a command is about to do, and so what it needs checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Serve: listeners and TLS too.
    Serve,
    /// Act on the store (`migrate`, `keys`, `users`).
    Command,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A setting that is fine, and what it resolved to.
    Ok(String),
    /// What starting would create or change.
    Would(String),
    /// Works, but probably not as meant.
    Warning(String),
    /// Refused: nothing starts with it.
    Error(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Ok(text) => write!(f, "ok       {text}"),
            Finding::Would(text) => write!(f, "would    {text}"),
            Finding::Warning(text) => write!(f, "warning  {text}"),
            Finding::Error(text) => write!(f, "error    {text}"),
        }
    }
}

/// The findings, in the order they were checked.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn ok(&mut self, text: impl Into<String>) {
        self.findings.push(Finding::Ok(text.into()));
    }

    fn would(&mut self, text: impl Into<String>) {
        self.findings.push(Finding::Would(text.into()));
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.findings.push(Finding::Warning(text.into()));
    }

    fn error(&mut self, error: impl fmt::Display) {
        self.findings.push(Finding::Error(error.to_string()));
    }

    /// Records `result`'s error, or what `describe` says of its value.
    fn check<T, E: fmt::Display>(
        &mut self,
        result: Result<T, E>,
        describe: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                self.ok(describe(&value));
                Some(value)
            }
            Err(error) => {
                self.error(format!("{error:#}").trim_end_matches('.'));
                None
            }
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.findings.iter().filter_map(|finding| match finding {
            Finding::Error(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// Every error, one per line; `Ok` when there is none.
    pub fn into_result(self) -> anyhow::Result<()> {
        let errors: Vec<&str> = self.errors().collect();
        match errors.as_slice() {
            [] => Ok(()),
            [one] => Err(anyhow::anyhow!("{one}")),
            many => Err(anyhow::anyhow!(
                "{} settings are refused:\n  {}",
                many.len(),
                many.join("\n  ")
            )),
        }
    }
}

/// Every setting `purpose` needs, without touching the database, the network or the disk.
pub async fn settings(config: &Config, purpose: Purpose) -> Report {
    let mut report = Report::default();
    let clock: SharedClock = std::sync::Arc::new(SystemClock);
    let location = config
        .database_url()
        .and_then(|url| store::locate(&url).map_err(anyhow::Error::from));
    let backend = report
        .check(location, |location| {
            format!("database: {}", location.described)
        })
        .map(|location| location.backend);
    if let Some(backend) = backend {
        keys(config, backend, &mut report);
    }
    if let Some(raw) = &config.resource_id {
        report.check(ResourceId::parse(raw), |id| format!("resource id: {id}"));
    }
    report.check(public_endpoint(config, config.listen), |endpoint| {
        format!("endpoint: {endpoint}")
    });
    if config.endpoint.is_none() && backend == Some(Backend::Postgres) {
        report.warn(
            "CALLSIGN_ENDPOINT is not set: with PostgreSQL, instances share the database and \
             should name the one URL clients use (connection strings and the tokens' `iss`)",
        );
    }
    let proxies = TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|error| format!("CALLSIGN_TRUSTED_PROXIES: {error}"));
    report.check(proxies, |_| {
        format!("trusted proxies: {}", listed(&config.trusted_proxies))
    });
    report.check(cors_origins(&config.cors_origins), |_| {
        format!("CORS origins: {}", listed(&config.cors_origins))
    });
    report.check(app_policy(&config.app_users), |_| {
        "app-user policy: valid".to_owned()
    });
    report.check(identity_providers(config, &clock), |idps| {
        let on = |configured: bool| if configured { "configured" } else { "none" };
        format!(
            "identity providers: app users {}, backends {}, organisation users {}",
            on(idps.app.is_some()),
            on(idps.backends.is_some()),
            on(idps.org_users.is_some())
        )
    });
    if let Some(path) = &config.signals.ssf_ca_file {
        report.check(certificates(path), |count| {
            format!(
                "event delivery trusts {count} extra CA certificate(s) from {}",
                path.display()
            )
        });
    }
    if purpose == Purpose::Serve {
        listeners(config, &mut report);
        tls(config, &mut report).await;
    }
    report
}

/// Whether the database is reachable and what migrating it would do.
pub async fn database(config: &Config, report: &mut Report) {
    let Ok(url) = config.database_url() else {
        return; // Already reported.
    };
    let Ok(location) = store::locate(&url) else {
        return;
    };
    let timeout = Duration::from_secs(config.startup_timeout_secs.clamp(1, 10));
    match store::inspect(&url, timeout).await {
        Err(error) => report.error(format!("cannot reach {}: {error}", location.described)),
        Ok(schema) => match schema.refusal() {
            Some(refusal) => report.error(format!("{}: {refusal}", location.described)),
            None if schema.absent => report.would(format!(
                "create {} and apply {} migrations",
                location.described,
                schema.pending.len()
            )),
            None if !schema.pending.is_empty() => report.would(format!(
                "apply {} migration(s): {}",
                schema.pending.len(),
                schema.pending.join(", ")
            )),
            None => report.ok("the database is reachable and fully migrated"),
        },
    }
}

fn keys(config: &Config, backend: Backend, report: &mut Report) {
    match find_master_key(config, backend) {
        Ok(FoundMasterKey::Configured(_)) => report.ok("master key: configured"),
        Ok(FoundMasterKey::Stored(path, _)) => report.ok(format!("master key: {}", path.display())),
        Ok(FoundMasterKey::Missing(path)) => report.would(format!(
            "generate a master key into {} (back it up)",
            path.display()
        )),
        Err(error) => report.error(format!("{error:#}")),
    }
    match config.previous_master_key_secret() {
        Ok(Some(encoded)) => {
            report.check(MasterKey::from_base64(&encoded), |_| {
                "previous master key: configured (for `callsign keys reseal`)".to_owned()
            });
        }
        Ok(None) => {}
        Err(error) => report.error(format!("{error:#}")),
    }
    report.check(seed_keys(config), |seed| match seed {
        Some(_) => "access keys: configured (they seed an empty key ring)".to_owned(),
        None => "access keys: stored, or generated on first start".to_owned(),
    });
}

fn listeners(config: &Config, report: &mut Report) {
    match config.ops_listen {
        Some(ops) if ops == config.listen && ops.port() != 0 => report.error(format!(
            "CALLSIGN_OPS_LISTEN is {ops}, the same address as CALLSIGN_LISTEN"
        )),
        Some(ops) => report.ok(format!("listens on {}, ops on {ops}", config.listen)),
        None => report.ok(format!("listens on {}", config.listen)),
    }
}

async fn tls(config: &Config, report: &mut Report) {
    match (config.tls.mode, &config.tls.tls_cert, &config.tls.tls_key) {
        (TlsMode::Off, ..) => {
            report.warn("plain HTTP (--tls off): only behind a TLS-terminating proxy")
        }
        (TlsMode::On, Some(cert), Some(key)) => {
            let loaded = RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|error| {
                    format!(
                        "cannot load the TLS certificate {} with key {}: {error}",
                        cert.display(),
                        key.display()
                    )
                });
            report.check(loaded, |_| format!("TLS certificate: {}", cert.display()));
        }
        // The command line requires both files or neither.
        (TlsMode::On, ..) => {
            let dir = config.data_dir.join("tls");
            if dir.join("cert.pem").exists() {
                report.ok(format!(
                    "TLS: the generated certificate in {} (renewed when due)",
                    dir.display()
                ));
            } else {
                report.would(format!(
                    "generate a self-signed TLS certificate and its local CA into {}",
                    dir.display()
                ));
            }
        }
    }
}

/// How many PEM certificates a CA file holds; none is an error.
fn certificates(path: &std::path::Path) -> Result<usize, String> {
    let pem = std::fs::read(path).map_err(|error| {
        format!(
            "cannot read CALLSIGN_SSF_CA_FILE {}: {error}",
            path.display()
        )
    })?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => Ok(certificates.len()),
        Ok(_) => Err(format!(
            "CALLSIGN_SSF_CA_FILE {} holds no PEM certificate",
            path.display()
        )),
        Err(error) => Err(format!(
            "CALLSIGN_SSF_CA_FILE {} is not a PEM certificate bundle: {error}",
            path.display()
        )),
    }
}

fn listed(entries: &[String]) -> String {
    if entries.is_empty() {
        "none".to_owned()
    } else {
        entries.join(", ")
    }
}
