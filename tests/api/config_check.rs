//! `callsign config check` and the same checks before every start: every refused setting is
//! reported at once, in words, and nothing (data directory, master key, certificate, database
//! file, schema) is created or migrated by a configuration that is refused or only checked.

use std::process::Output;

use sqlx::Connection;

use crate::helpers::*;

backend_tests!(a_migrated_database_checks_as_ready_to_serve,);

async fn callsign(args: &[String]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A data directory that does not exist yet, inside a temporary one.
fn fresh_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

#[tokio::test]
async fn config_check_reports_every_refused_setting_and_creates_nothing() {
    let (_dir, data) = fresh_data_dir();
    let mut args = strings(&[
        "--data-dir",
        &data.display().to_string(),
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
        "--trusted-proxies",
        "10.0.0.0/33",
        "--cors-origins",
        "https://app.example/path",
    ]);
    args.extend(strings(&["config", "check"]));
    let output = callsign(&args).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 3, "{stdout}");
    for named in [
        "/nonexistent/cert.pem",
        "CALLSIGN_TRUSTED_PROXIES",
        "CALLSIGN_CORS_ORIGINS",
    ] {
        assert!(
            errors.iter().any(|line| line.contains(named)),
            "no error names {named}: {stdout}"
        );
    }
    assert!(
        stdout.contains("would    create SQLite file"),
        "says what starting would do: {stdout}"
    );
    assert!(text(&output.stderr).contains("3 setting(s) refused"));
    assert!(!data.exists(), "a check created {}", data.display());
}

#[tokio::test]
async fn serve_refuses_a_bad_certificate_before_creating_anything() {
    let (_dir, data) = fresh_data_dir();
    let output = callsign(&strings(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data.display().to_string(),
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("/nonexistent/cert.pem"), "{stderr}");
    assert!(
        !data.exists(),
        "no master key or database file before the refusal"
    );
}

#[tokio::test]
async fn postgres_without_a_master_key_is_refused_before_migrating() {
    let Some(admin) = pg_admin_url() else {
        return;
    };
    let url = fresh_pg_database(&admin).await;
    let (_dir, data) = fresh_data_dir();
    let output = callsign(&strings(&[
        "--database-url",
        &url,
        "--data-dir",
        &data.display().to_string(),
        "migrate",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        text(&output.stderr).contains("CALLSIGN_MASTER_KEY is required"),
        "{output:?}"
    );
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(!migrated, "the refused command migrated the database");
}

/// `callsign migrate` on `url` (with a master key, waiting a second at most), which must fail;
/// what it printed on standard error.
async fn refused_migration(url: &str) -> String {
    let (_dir, data) = fresh_data_dir();
    let mut master = [0u8; 32];
    getrandom::fill(&mut master).unwrap();
    let output = callsign(&strings(&[
        "--database-url",
        url,
        "--master-key",
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, master),
        "--data-dir",
        &data.display().to_string(),
        "--startup-timeout-secs",
        "1",
        "migrate",
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    text(&output.stderr)
}

#[tokio::test]
async fn database_errors_are_said_once_in_words() {
    let Some(admin) = pg_admin_url() else {
        return;
    };
    let missing = format!(
        "{}/callsign_no_such_database",
        admin.rsplit_once('/').unwrap().0
    );
    let stderr = refused_migration(&missing).await;
    assert_eq!(
        stderr.matches("does not exist").count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("callsign_no_such_database"), "{stderr}");
    assert!(
        !stderr.contains(".c:"),
        "no PostgreSQL source lines: {stderr}"
    );
}

/// A role PostgreSQL does not know, and a port nothing listens on: each said in words, the
/// second after waiting for the database as long as configured.
#[tokio::test]
async fn unknown_roles_and_refused_ports_are_said_in_words() {
    let Some(admin) = pg_admin_url() else {
        return;
    };
    let (scheme, rest) = admin.split_once("://").unwrap();
    let (_, place) = rest.split_once('@').unwrap();
    let (host, database) = place.split_once('/').unwrap();
    let host = host.split(':').next().unwrap();
    for (url, expected) in [
        (
            format!("{scheme}://callsign_no_such_role@{place}"),
            "role \"callsign_no_such_role\" does not exist (check the user and password",
        ),
        (
            format!(
                "{scheme}://postgres@{host}:{}/{database}",
                crate::process::free_port()
            ),
            "connection refused: nothing listens at that address and port",
        ),
    ] {
        let stderr = refused_migration(&url).await;
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("pool timed out"), "{stderr}");
    }
}

async fn a_migrated_database_checks_as_ready_to_serve(app: TestApp) {
    let mut args = app.settings.args();
    args.extend(strings(&["config", "check"]));
    let output = callsign(&args).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("ok       the database is reachable and fully migrated"),
        "{stdout}"
    );
    assert!(!stdout.contains("would    apply"), "{stdout}");
}
