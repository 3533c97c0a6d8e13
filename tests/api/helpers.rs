//! `spawn_app(backend)`: the real server on port 0 over HTTPS, against a fresh SQLite file or a
//! fresh PostgreSQL database (`backend_tests!` runs a test on both), with the shared assertions.
//! Signing clients live in `acs_client.rs` and `app_client.rs`, processes in `process.rs`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use callsign::config::Cli;
use callsign::startup::Application;
use clap::Parser;
use reqwest::Response;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use tokio::sync::oneshot;

pub use crate::acs_client::{http_date, identity_path};
pub use crate::process::{spawn_process, spawn_process_logging};
use crate::test_logs::{capture_in_process_logs, record_secret, record_secrets_in};

pub const API: &str = "api-version=2023-10-01";
/// Serves the `/keys` routes (by default keys are administered from the command line only).
pub const KEY_ADMIN_API: [&str; 2] = ["--key-admin", "api"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from an `async fn(TestApp)`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                    super::$name(app.expect("SQLite is always available")).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

/// Runs `$body` with `$db` a fresh connection to the store at `$url`, of the store's own driver
/// (sqlx's `Any` driver is not built): one body for both backends. Needs `sqlx::Connection`.
macro_rules! on_store {
    ($url:expr, |$db:ident| $body:expr) => {
        if $url.starts_with("sqlite:") {
            let mut $db = sqlx::SqliteConnection::connect($url)
                .await
                .expect("open the store");
            $body
        } else {
            let mut $db = sqlx::PgConnection::connect($url)
                .await
                .expect("open the store");
            $body
        }
    };
}
pub(crate) use on_store;

/// A random, strong access key, base64.
pub fn random_key() -> String {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).unwrap();
    let key = STANDARD.encode(bytes);
    record_secret(&key);
    key
}

/// The value of `var`, or `None` with a loud message when it is unset. In CI (`CI=true`) an
/// unset variable fails the test instead: nothing may be skipped there.
pub fn required_env(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} must be set in CI: these tests may not be skipped")
        }
        _ => {
            eprintln!("\n!!! SKIPPING a test: {var} is not set ({how}) !!!\n");
            None
        }
    }
}

/// The PostgreSQL admin URL, when PostgreSQL tests are configured.
pub fn pg_admin_url() -> Option<String> {
    required_env(
        "CALLSIGN_TEST_PG",
        "e.g. postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// Creates an empty database for one test and returns its URL.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("callsign_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("admin URL ends in /<database>");
    format!("{base}/{name}")
}

/// Settings shared by in-process and spawned servers.
#[derive(Clone)]
pub struct ServerSettings {
    /// `--listen`: `127.0.0.1:0` unless a test needs another listener.
    pub listen: String,
    /// `--resync-interval-ms`: 1000, so what the resync notices shows within a second.
    pub resync_interval_ms: u64,
    pub database_url: String,
    pub data_dir: std::path::PathBuf,
    pub primary_key: String,
    pub secondary_key: String,
    pub master_key: String,
}

impl ServerSettings {
    pub async fn new(backend: Backend, data_dir: &Path) -> Option<Self> {
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.join("callsign.db").display()),
            Backend::Postgres => fresh_pg_database(&pg_admin_url()?).await,
        };
        let mut master = [0u8; 32];
        getrandom::fill(&mut master).unwrap();
        let master_key = STANDARD.encode(master);
        record_secret(&master_key);
        Some(ServerSettings {
            listen: "127.0.0.1:0".to_owned(),
            resync_interval_ms: 1000,
            database_url,
            data_dir: data_dir.to_owned(),
            primary_key: random_key(),
            secondary_key: random_key(),
            master_key,
        })
    }

    pub fn args(&self) -> Vec<String> {
        let resync_interval_ms = self.resync_interval_ms.to_string();
        [
            "--listen",
            &self.listen,
            "--database-url",
            &self.database_url,
            "--data-dir",
            &self.data_dir.display().to_string(),
            "--primary-key",
            &self.primary_key,
            "--secondary-key",
            &self.secondary_key,
            "--master-key",
            &self.master_key,
            "--resync-interval-ms",
            &resync_interval_ms,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// Runs the `callsign` command line against `settings`' database with `args`; it must succeed.
/// Returns what it printed.
pub async fn run_cli(settings: &ServerSettings, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(settings.args())
        .args(args)
        .output()
        .await
        .unwrap_or_else(|error| panic!("run callsign {args:?}: {error}"));
    assert!(output.status.success(), "callsign {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An HTTPS client that trusts the server's generated certificate.
pub fn client_trusting(cert: &Path) -> reqwest::Client {
    client_builder_trusting(cert).build().unwrap()
}

/// A client builder that trusts the certificates in `cert`.
pub fn client_builder_trusting(cert: &Path) -> reqwest::ClientBuilder {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(cert)
        .expect("read cert.pem")
        .map(|c| c.expect("parse cert.pem"));
    roots.add_parsable_certificates(certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder().tls_backend_preconfigured(config)
}

/// A client for plain-HTTP servers.
pub fn plain_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub host: String,
    pub client: reqwest::Client,
    pub primary_key: Vec<u8>,
    pub secondary_key: Vec<u8>,
    pub settings: ServerSettings,
    pub connection_string: String,
    pub trust_file: std::path::PathBuf,
    /// The separate ops listener's base URL, when there is one.
    pub ops: Option<String>,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    /// A server running as its own process (multi-instance tests); killed on drop.
    pub(crate) _child: Option<tokio::process::Child>,
    pub(crate) _dir: Option<Arc<tempfile::TempDir>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(backend, dir.path()).await?;
    Some(spawn_app_with(settings, dir, &[]).await)
}

/// Starts the server in this process with `settings` plus `extra` arguments.
pub async fn spawn_app_with(
    settings: ServerSettings,
    dir: impl Into<Arc<tempfile::TempDir>>,
    extra: &[&str],
) -> TestApp {
    spawn_app_with_clock(settings, dir, extra, Arc::new(callsign::clock::SystemClock)).await
}

/// [`spawn_app_with`] on the given clock.
pub async fn spawn_app_with_clock(
    settings: ServerSettings,
    dir: impl Into<Arc<tempfile::TempDir>>,
    extra: &[&str],
    clock: callsign::clock::SharedClock,
) -> TestApp {
    let args = settings
        .args()
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(std::iter::once("callsign".to_owned()).chain(args))
        .expect("valid arguments");
    capture_in_process_logs();
    let app = Application::build_with_clock(&cli.config, clock)
        .await
        .expect("server builds");
    let address = app.local_addr();
    let connection_string = app.connection_string(callsign::keys::KeySlot::Primary);
    record_secret(&connection_string);
    let trust_file = app.trust_file().expect("generated certificate").to_owned();
    let ops = app.ops_addr().map(|ops| format!("http://{ops}"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("https://127.0.0.1:{}", address.port()),
        host: format!("127.0.0.1:{}", address.port()),
        client: client_trusting(&trust_file),
        primary_key: STANDARD.decode(&settings.primary_key).unwrap(),
        secondary_key: STANDARD.decode(&settings.secondary_key).unwrap(),
        settings,
        connection_string,
        trust_file,
        ops,
        stop: Some(stop),
        _child: None,
        _dir: Some(dir.into()),
    }
}

impl TestApp {
    /// A second handle on the same server with another HTTP client.
    pub fn with_client(&self, client: reqwest::Client) -> TestApp {
        TestApp {
            base: self.base.clone(),
            host: self.host.clone(),
            client,
            primary_key: self.primary_key.clone(),
            secondary_key: self.secondary_key.clone(),
            settings: self.settings.clone(),
            connection_string: self.connection_string.clone(),
            trust_file: self.trust_file.clone(),
            ops: self.ops.clone(),
            stop: None,
            _child: None,
            _dir: None,
        }
    }

    /// The server's process id, when it runs as its own process.
    pub fn pid(&self) -> Option<u32> {
        self._child.as_ref().and_then(|child| child.id())
    }

    /// Stops this server and starts another on the same database with `extra` arguments.
    pub async fn restart_with(self, extra: &[&str]) -> TestApp {
        self.restart_with_clock(extra, Arc::new(callsign::clock::SystemClock))
            .await
    }

    /// [`TestApp::restart_with`], the new server on `clock`.
    pub async fn restart_with_clock(
        mut self,
        extra: &[&str],
        clock: callsign::clock::SharedClock,
    ) -> TestApp {
        let dir = self._dir.take().expect("an in-process server");
        let settings = self.settings.clone();
        drop(self);
        spawn_app_with_clock(settings, dir, extra, clock).await
    }
}

/// The value of an unlabelled metric on the server's `/metrics` (served there with
/// `--metrics public`), if it is exported.
pub async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text.lines().find(|line| {
        line.split_once(' ')
            .is_some_and(|(metric, _)| metric == name)
    })?;
    line.split_once(' ')?.1.trim().parse().ok()
}

pub async fn body(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    record_secrets_in(&value);
    value
}

/// Asserts an ACS-shaped error with this status and code; returns the message.
pub async fn assert_error(response: Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "unexpected status");
    let body = body(response).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("error message")
        .to_owned();
    assert!(!message.is_empty());
    message
}

/// The decoded JWT payload of a token.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The `kid` in a JWT's header.
pub fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}
