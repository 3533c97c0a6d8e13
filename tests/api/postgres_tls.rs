//! PostgreSQL over TLS, as managed databases require: `sslmode=verify-full` with the server's
//! CA works against a server that refuses plain connections; a server whose certificate does not
//! chain to the given CA is refused, and so is plain TCP.

use std::path::Path;

use crate::helpers::*;
use crate::private_pg::PrivatePostgres;

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files in `dir`.
fn certificates(
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-server.crt")),
        dir.join(format!("{name}-server.key")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

async fn settings_for(url: String, dir: &Path) -> ServerSettings {
    let mut settings = ServerSettings::new(Backend::Sqlite, dir).await.unwrap();
    settings.database_url = url;
    settings
}

#[tokio::test]
async fn callsign_runs_on_postgres_that_serves_tls_only() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path(), "db");
    let Some(pg) = PrivatePostgres::start(Some((&cert, &key))) else {
        return;
    };
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.url,
        ca.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(settings_for(url.clone(), dir.path()).await, dir, &[]).await;
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    assert!(app.is_active(&token).await);

    // Every connection Callsign holds is encrypted (the server takes no other kind anyway).
    use sqlx::Connection;
    let mut probe = sqlx::PgConnection::connect(&url).await.unwrap();
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.backend_type = 'client backend' AND NOT s.ssl",
    )
    .fetch_one(&mut probe)
    .await
    .unwrap();
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn a_server_the_ca_does_not_vouch_for_or_plain_tcp_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (_, cert, key) = certificates(certs.path(), "db");
    let (other_ca, _, _) = certificates(certs.path(), "other");
    let Some(pg) = PrivatePostgres::start(Some((&cert, &key))) else {
        return;
    };
    for url in [
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            pg.url,
            other_ca.display()
        ),
        format!("{}?sslmode=disable", pg.url),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_for(url.clone(), dir.path()).await;
        let mut args = settings.args();
        args.extend(["--startup-timeout-secs", "1"].map(String::from));
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
            .args(&args)
            .arg("migrate")
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{url} must be refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("database"),
            "a clear error for {url}: {stderr}"
        );
    }
}
