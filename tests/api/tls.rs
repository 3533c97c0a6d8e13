//! HTTPS: the generated certificate covers the configured names; a configured certificate is
//! reloaded on SIGHUP without a restart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;
use crate::process::{signal, start_binary};

#[tokio::test]
async fn the_generated_certificate_covers_the_configured_names() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_app_with(
        settings,
        dir,
        &["--tls-names", "callsign.internal,127.0.0.1"],
    )
    .await;
    let address: SocketAddr = app.host.parse().unwrap();
    let client = client_builder_trusting(&app.trust_file)
        .resolve("callsign.internal", address)
        .build()
        .unwrap();
    let by_name = client
        .get(format!(
            "https://callsign.internal:{}/healthz",
            address.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), 200);

    let localhost = client
        .get(format!("https://localhost:{}/healthz", address.port()))
        .send()
        .await;
    assert!(
        localhost.is_err(),
        "localhost is no longer one of the names"
    );
}

/// A self-signed certificate for localhost, as PEM (certificate, key) and DER.
fn certificate() -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// The certificate the server at `port` presents.
async fn served_certificate(port: u16) -> Vec<u8> {
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .unwrap();
    info.peer_certificate().unwrap().to_vec()
}

#[cfg(unix)]
#[tokio::test]
async fn a_configured_certificate_is_reloaded_on_sighup() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let (cert, key, first) = certificate();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();

    let mut args = settings.args();
    args.extend(
        [
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let (child, port, _output) = start_binary(&args, &[("RUST_LOG", "info")]).await;
    assert_eq!(served_certificate(port).await, first);

    let (cert, key, second) = certificate();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    signal(child.id().unwrap(), "HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let served = served_certificate(port).await;
        if served == second {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate is served within 5 s of SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(dir);
}
