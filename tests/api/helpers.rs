//! `spawn_app(backend)`: the real server on port 0 over HTTPS, against a fresh SQLite file or a
//! fresh PostgreSQL database, with a client that signs requests the way the Azure SDKs do.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use callsign::auth::hmac::{content_hash, sign};
use callsign::config::Cli;
use callsign::startup::Application;
use clap::Parser;
use reqwest::{Method, Response};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use crate::process::{spawn_process, spawn_process_logging};

pub const API: &str = "api-version=2023-10-01";

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

/// A random, strong access key, base64.
pub fn random_key() -> String {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).unwrap();
    STANDARD.encode(bytes)
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
        Some(ServerSettings {
            database_url,
            data_dir: data_dir.to_owned(),
            primary_key: random_key(),
            secondary_key: random_key(),
            master_key: STANDARD.encode(master),
        })
    }

    pub fn args(&self) -> Vec<String> {
        [
            "--listen",
            "127.0.0.1:0",
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
            "1000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// An HTTPS client that trusts the server's generated certificate.
pub fn client_trusting(cert: &Path) -> reqwest::Client {
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
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
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
    let args = settings
        .args()
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(std::iter::once("callsign".to_owned()).chain(args))
        .expect("valid arguments");
    let app = Application::build(&cli.config)
        .await
        .expect("server builds");
    let address = app.local_addr();
    let connection_string = app.connection_string(callsign::keys::KeySlot::Primary);
    let trust_file = app.trust_file().expect("generated certificate").to_owned();
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
        stop: Some(stop),
        _child: None,
        _dir: Some(dir.into()),
    }
}

impl TestApp {
    /// Stops this server and starts another on the same database with `extra` arguments.
    pub async fn restart_with(mut self, extra: &[&str]) -> TestApp {
        let dir = self._dir.take().expect("an in-process server");
        let settings = self.settings.clone();
        drop(self);
        spawn_app_with(settings, dir, extra).await
    }
}

/// A request signed as the SDKs sign, with knobs to break it.
pub struct Signed<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    body: Vec<u8>,
    sent_body: Option<Vec<u8>>,
    key: Vec<u8>,
    date: String,
    content_type: Option<&'static str>,
    sign: bool,
}

impl<'a> Signed<'a> {
    pub fn json(mut self, value: &Value) -> Self {
        self.body = serde_json::to_vec(value).unwrap();
        self
    }
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn content_type(mut self, value: Option<&'static str>) -> Self {
        self.content_type = value;
        self
    }
    pub fn key(mut self, key: &[u8]) -> Self {
        self.key = key.to_vec();
        self
    }
    pub fn date(mut self, date: String) -> Self {
        self.date = date;
        self
    }
    /// Sends `body` while the signature covers the body set before.
    pub fn send_instead(mut self, body: &[u8]) -> Self {
        self.sent_body = Some(body.to_vec());
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }

    pub async fn send(self) -> Response {
        let url = format!("{}{}", self.app.base, self.path);
        let mut request = self.app.client.request(self.method.clone(), url);
        if self.sign {
            let hash = content_hash(&self.body);
            let signature = sign(
                &self.key,
                self.method.as_str(),
                &self.path,
                &self.date,
                &self.app.host,
                &hash,
            );
            request = request
                .header("x-ms-date", &self.date)
                .header("x-ms-content-sha256", hash)
                .header(
                    "authorization",
                    format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"),
                );
        }
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        request
            .body(self.sent_body.unwrap_or(self.body))
            .send()
            .await
            .expect("request sent")
    }
}

/// Now, as an HTTP date, shifted by `seconds`.
pub fn http_date(offset_seconds: i64) -> String {
    let at = std::time::SystemTime::now()
        .checked_add(std::time::Duration::from_secs(offset_seconds.max(0) as u64))
        .and_then(|t| {
            t.checked_sub(std::time::Duration::from_secs(
                (-offset_seconds).max(0) as u64
            ))
        })
        .unwrap();
    httpdate::fmt_http_date(at)
}

impl TestApp {
    pub fn signed(&self, method: Method, path: &str) -> Signed<'_> {
        Signed {
            app: self,
            method,
            path: path.to_owned(),
            body: Vec::new(),
            sent_body: None,
            key: self.primary_key.clone(),
            date: http_date(0),
            content_type: Some("application/json"),
            sign: true,
        }
    }

    pub fn post(&self, path: &str) -> Signed<'_> {
        self.signed(Method::POST, path)
    }

    /// Creates an identity and returns its id.
    pub async fn create_identity(&self) -> String {
        let response = self.post(&format!("/identities?{API}")).send().await;
        assert_eq!(response.status(), 201);
        body(response).await["identity"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn issue(&self, id: &str, request: Value) -> Response {
        self.issue_with_key(id, request, &self.primary_key.clone())
            .await
    }

    pub async fn issue_with_key(&self, id: &str, request: Value, key: &[u8]) -> Response {
        self.post(&identity_path(id, "/:issueAccessToken"))
            .json(&request)
            .key(key)
            .send()
            .await
    }

    /// Issues a `chat` token and returns it.
    pub async fn token_for(&self, id: &str) -> String {
        let response = self.issue(id, json!({ "scopes": ["chat"] })).await;
        assert_eq!(response.status(), 200);
        body(response).await["token"].as_str().unwrap().to_owned()
    }

    pub async fn revoke(&self, id: &str) -> Response {
        self.post(&identity_path(id, "/:revokeAccessTokens"))
            .send()
            .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let response = self
            .post("/tokens/:introspect")
            .json(&json!({ "token": token }))
            .send()
            .await;
        assert_eq!(response.status(), 200);
        body(response).await
    }

    pub async fn is_active(&self, token: &str) -> bool {
        self.is_active_with_key(token, &self.primary_key.clone())
            .await
    }

    /// Introspects with a request signed by `key`.
    pub async fn is_active_with_key(&self, token: &str, key: &[u8]) -> bool {
        let response = self
            .post("/tokens/:introspect")
            .json(&json!({ "token": token }))
            .key(key)
            .send()
            .await;
        assert_eq!(response.status(), 200);
        body(response).await["active"].as_bool().unwrap()
    }
}

/// `/identities/<percent-encoded id><suffix>?api-version=…`
pub fn identity_path(id: &str, suffix: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/identities/{encoded}{suffix}?{API}")
}

pub async fn body(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"))
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
