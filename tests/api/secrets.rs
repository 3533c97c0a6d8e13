//! No secret reaches the logs: a server at `RUST_LOG=debug` goes through every flow that
//! handles one (access keys, HMAC signatures, passwords, refresh tokens, access tokens, bearer
//! tokens), and its whole output is searched for each of them.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::helpers::*;
use crate::idp::{AUDIENCE, LocalIdp};

#[tokio::test]
async fn no_secret_reaches_the_logs_sqlite() {
    no_secret_reaches_the_logs(Backend::Sqlite).await;
}

#[tokio::test]
async fn no_secret_reaches_the_logs_postgres() {
    no_secret_reaches_the_logs(Backend::Postgres).await;
}

async fn no_secret_reaches_the_logs(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let Some(settings) = ServerSettings::new(backend, dir.path()).await else {
        return;
    };
    let idp = LocalIdp::start().await;
    let extra = [
        "--oidc-issuer",
        &idp.issuer,
        "--oidc-audience",
        AUDIENCE,
        "--guests",
        "on",
        "--key-admin",
        "api",
    ];
    let (app, log) = spawn_process_logging(&settings, dir, &extra, "debug").await;
    let mut secrets = vec![
        settings.primary_key.clone(),
        settings.secondary_key.clone(),
        settings.master_key.clone(),
        PASSWORD.to_owned(),
        "a wrong password".to_owned(),
    ];

    // Backends: HMAC-signed identity and token calls.
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    assert!(app.is_active(&token).await);
    secrets.push(token);
    let keys = body(app.signed(Method::GET, "/keys").send().await).await;
    secrets.push(keys["primaryConnectionString"].as_str().unwrap().to_owned());

    // App users: password sign-in, a failed one, refresh, reuse, sign-out.
    let session = app.new_session("logged").await;
    assert_eq!(
        app.sign_in("logged", "a wrong password").await.status(),
        401
    );
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    let rotated = body(app.refresh(&first).await).await;
    assert_eq!(app.refresh(&first).await.status(), 401);
    for value in [&session, &rotated] {
        secrets.push(value["refreshToken"].as_str().unwrap().to_owned());
        secrets.push(value["accessToken"]["token"].as_str().unwrap().to_owned());
    }

    // Bearer tokens of the app's provider, good and bad; guests.
    let bearer = idp.token("logged-oidc-user");
    let issued = app
        .bearer(Method::GET, "/api/token", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    secrets.push(body(issued).await["token"].as_str().unwrap().to_owned());
    let forged = idp.unsigned("intruder");
    let refused = app
        .bearer(Method::GET, "/api/token", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    secrets.push(bearer);
    secrets.push(forged);
    let guest = body(app.public_post("/v1/guests", &json!({})).await).await;
    secrets.push(guest["token"].as_str().unwrap().to_owned());

    drop(app);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("app user signed in"),
        "debug logs were captured:\n{log}"
    );
    for secret in &secrets {
        // A JWT's signature alone is a secret too: look for it on its own.
        let signature = secret
            .strip_prefix("ey")
            .and_then(|jwt| jwt.rsplit('.').next())
            .filter(|signature| signature.len() >= 16);
        if let Some(signature) = signature {
            assert!(
                !log.contains(signature),
                "a token signature reached the logs"
            );
        }
        assert!(!log.contains(secret.as_str()), "a secret reached the logs");
    }
    assert!(
        !log.contains("Signature="),
        "an HMAC signature reached the logs"
    );
}

/// The data directory a first start creates holds the master key, the SQLite database (and its
/// WAL) and the TLS key: only Callsign's own user may read any of it.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let cli = <callsign::config::Cli as clap::Parser>::try_parse_from(
        std::iter::once("callsign".to_owned()).chain(args),
    )
    .unwrap();
    // Generated master key, SQLite database, generated certificate: everything by default.
    let app = callsign::startup::Application::build(&cli.config)
        .await
        .unwrap();
    drop(app);
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in [
        "master.key",
        "callsign.db",
        "callsign.db-wal",
        "tls/key.pem",
    ] {
        let path = data.join(file);
        assert!(path.exists(), "{file} was created");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    assert_eq!(mode(&data.join("tls")), 0o700, "the TLS directory");
}

/// The options of a first start on `data`, with the generated master key.
#[cfg(unix)]
fn generated_key_start(data: &std::path::Path) -> callsign::config::Cli {
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    <callsign::config::Cli as clap::Parser>::try_parse_from(std::iter::once("callsign").chain(args))
        .unwrap()
}

/// A data directory that already exists open to others (made by hand, by an image build) is
/// made owner-only at start-up, as one Callsign creates is.
#[cfg(unix)]
#[tokio::test]
async fn an_existing_open_data_directory_is_made_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = callsign::startup::Application::build(&generated_key_start(&data).config)
        .await
        .unwrap();
    drop(app);
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// The generated master key opens every stored key: one that group or others can read is
/// refused at start-up, naming the file and the `chmod` that fixes it, as ssh refuses such a
/// private key.
#[cfg(unix)]
#[tokio::test]
async fn a_master_key_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let cli = generated_key_start(&data);
    drop(
        callsign::startup::Application::build(&cli.config)
            .await
            .unwrap(),
    );
    let key = data.join("master.key");
    for open in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(open)).unwrap();
        let Err(refused) = callsign::startup::Application::build(&cli.config).await else {
            panic!("started with master.key at {open:o}");
        };
        let message = format!("{refused:#}");
        assert!(
            message.contains(&format!("chmod 600 {}", key.display())),
            "{message}"
        );
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    drop(
        callsign::startup::Application::build(&cli.config)
            .await
            .unwrap(),
    );
}
