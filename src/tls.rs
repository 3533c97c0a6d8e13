//! HTTPS by default: the Azure SDKs refuse plain HTTP. With no certificate configured, Callsign
//! makes a local CA (named uniquely, so two installations' CAs never shadow each other in a
//! trust store) and a certificate for the configured names signed by it, under the data
//! directory. `cert.pem` holds the chain (certificate, then CA), so pointing a client's trust
//! store at `cert.pem` is enough. A configured certificate is reloaded when its files change or
//! on SIGHUP, without dropping a connection.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::private_files;

/// How often a configured certificate's files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// Where the certificate comes from.
pub enum TlsSource {
    /// Operator-supplied PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated under `dir` for `names`, reused while the names stay the same and it is not
    /// close to expiry at `now`.
    SelfSigned {
        dir: PathBuf,
        names: Vec<String>,
        now: OffsetDateTime,
    },
}

/// How long a generated certificate is valid: at most 825 days, the longest Apple platforms
/// accept for a TLS server certificate.
pub const GENERATED_VALIDITY: time::Duration = time::Duration::days(825);
/// A generated certificate this close to expiry is replaced at start.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);

/// The loaded configuration and, for a generated certificate, the file clients should trust.
pub struct Tls {
    pub config: RustlsConfig,
    pub trust_file: Option<PathBuf>,
    /// The files to watch, for a configured certificate.
    reload: Option<(PathBuf, PathBuf)>,
}

pub async fn load(source: TlsSource) -> anyhow::Result<Tls> {
    match source {
        TlsSource::Files { cert, key } => Ok(Tls {
            config: RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load TLS certificate {} / key {}",
                        cert.display(),
                        key.display()
                    )
                })?,
            trust_file: None,
            reload: Some((cert, key)),
        }),
        TlsSource::SelfSigned { dir, names, now } => {
            let cert = dir.join("cert.pem");
            let key = dir.join("key.pem");
            let names_file = dir.join("names");
            let wanted = names.join("\n");
            let current = std::fs::read_to_string(&names_file).ok();
            let current = current.as_deref().or_else(|| {
                // Certificates made before the names were recorded cover the default names.
                (cert.exists() && key.exists()).then_some("localhost\n127.0.0.1")
            });
            // Certificates made before their expiry was recorded were valid far too long.
            let valid_until = std::fs::read_to_string(dir.join("valid_until"))
                .ok()
                .and_then(|secs| secs.trim().parse::<i64>().ok());
            let fresh =
                valid_until.is_some_and(|until| (now + RENEW_BEFORE).unix_timestamp() < until);
            if current != Some(wanted.as_str()) || !cert.exists() || !key.exists() || !fresh {
                generate(&dir, &names, now)?;
                tracing::info!(cert = %cert.display(), names = %names.join(","), "generated a TLS certificate and its local CA");
            }
            Ok(Tls {
                config: RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .with_context(|| format!("cannot load TLS certificate {}", cert.display()))?,
                trust_file: Some(cert),
                reload: None,
            })
        }
    }
}

impl Tls {
    /// For a configured certificate: reloads it on SIGHUP or when its files change, until
    /// `cancel`. A certificate that fails to load is logged and the current one kept.
    pub fn watch(&self, cancel: CancellationToken) {
        let Some((cert, key)) = self.reload.clone() else {
            return;
        };
        let config = self.config.clone();
        tokio::spawn(async move {
            let mut hangup = hangups();
            let mut seen = modified(&cert, &key);
            let mut every = tokio::time::interval(RELOAD_CHECK);
            loop {
                let reason = tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = hangup.recv() => "SIGHUP",
                    _ = every.tick() => {
                        let now = modified(&cert, &key);
                        if now == seen { continue; }
                        seen = now;
                        "files changed"
                    }
                };
                match config.reload_from_pem_file(&cert, &key).await {
                    Ok(()) => {
                        tracing::info!(reason, cert = %cert.display(), "reloaded the TLS certificate")
                    }
                    Err(error) => {
                        tracing::error!(reason, %error, cert = %cert.display(), "cannot reload the TLS certificate; keeping the current one")
                    }
                }
            }
        });
    }
}

/// SIGHUP as a stream of wake-ups (never, where there are no signals).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while signal.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

fn modified(cert: &Path, key: &Path) -> [Option<SystemTime>; 2] {
    [cert, key].map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
}

/// A CA name no other installation shares.
fn ca_name() -> String {
    format!(
        "Callsign local CA {}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn generate(dir: &Path, names: &[String], now: OffsetDateTime) -> anyhow::Result<()> {
    // Valid from a day ago (clocks of other machines), for at most 825 days.
    let not_before = now - time::Duration::days(1);
    let not_after = now + GENERATED_VALIDITY;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name());
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut params = CertificateParams::new(names.to_vec())
        .context("CALLSIGN_TLS_NAMES holds a name that is neither a host name nor an IP address")?;
    params.not_before = not_before;
    params.not_after = not_after;
    let common_name = names.first().map_or("localhost", String::as_str);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;

    private_files::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for stale in ["key.pem", "cert.pem", "names"] {
        match std::fs::remove_file(dir.join(stale)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("cannot replace {stale}"));
            }
            _ => {}
        }
    }
    let key_path = dir.join("key.pem");
    private_files::write_new(&key_path, key.serialize_pem().as_bytes())
        .with_context(|| format!("cannot write {}", key_path.display()))?;
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, format!("{}{}", cert.pem(), ca.pem()))
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    std::fs::write(dir.join("names"), names.join("\n"))
        .with_context(|| format!("cannot write {}", dir.join("names").display()))?;
    std::fs::write(
        dir.join("valid_until"),
        not_after.unix_timestamp().to_string(),
    )
    .with_context(|| format!("cannot write {}", dir.join("valid_until").display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-12-05 10:00:00 UTC);

    /// The CA's common name, read from the second certificate of `cert.pem`.
    fn ca_common_name(dir: &Path) -> String {
        let pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
        let ca_b64: String = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(2)
            .unwrap()
            .lines()
            .take_while(|line| !line.starts_with("-----END"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(ca_b64)
            .unwrap();
        let prefix = b"Callsign local CA ";
        let at = der.windows(prefix.len()).position(|w| w == prefix).unwrap();
        String::from_utf8(der[at..at + prefix.len() + 12].to_vec()).unwrap()
    }

    #[tokio::test]
    async fn each_generated_ca_has_its_own_name_and_names_change_regenerates() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let root = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        for dir in [&a, &b] {
            load(TlsSource::SelfSigned {
                dir: dir.clone(),
                names: names.clone(),
                now: NOW,
            })
            .await
            .unwrap();
        }
        let first = ca_common_name(&a);
        assert_ne!(first, ca_common_name(&b));

        // Same names: the certificate is kept.
        load(TlsSource::SelfSigned {
            dir: a.clone(),
            names: names.clone(),
            now: NOW,
        })
        .await
        .unwrap();
        assert_eq!(ca_common_name(&a), first);

        // New names: a new certificate.
        load(TlsSource::SelfSigned {
            dir: a.clone(),
            names: vec!["callsign.internal".to_owned()],
            now: NOW,
        })
        .await
        .unwrap();
        assert_ne!(ca_common_name(&a), first);
    }

    /// `YYMMDDHHMMSSZ`, as a certificate's validity is written (UTCTime, before 2050).
    fn utc_time(at: OffsetDateTime) -> Vec<u8> {
        format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            at.year() % 100,
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn a_generated_certificate_is_valid_825_days_and_renewed_before_it_expires() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("tls");
        let names = vec!["localhost".to_owned()];
        let source = |now| TlsSource::SelfSigned {
            dir: dir.clone(),
            names: names.clone(),
            now,
        };
        load(source(NOW)).await.unwrap();
        let pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
        let leaf: String = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| !line.starts_with("-----END"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(leaf)
            .unwrap();
        let contains = |time: Vec<u8>| der.windows(time.len()).any(|w| w == time.as_slice());
        assert!(contains(utc_time(NOW + GENERATED_VALIDITY)), "not after");
        assert!(
            contains(utc_time(NOW - time::Duration::days(1))),
            "not before"
        );
        let first = ca_common_name(&dir);
        // Kept while far from expiry; replaced within 30 days of it.
        load(source(NOW + time::Duration::days(700))).await.unwrap();
        assert_eq!(ca_common_name(&dir), first);
        load(source(NOW + time::Duration::days(800))).await.unwrap();
        assert_ne!(ca_common_name(&dir), first);
    }
}
