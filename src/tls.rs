//! HTTPS by default: the Azure SDKs refuse plain HTTP. With no certificate configured, Callsign
//! makes a local CA and a `localhost`/`127.0.0.1` certificate signed by it, once, under the data
//! directory. `cert.pem` holds the chain (certificate, then CA), so pointing a client's trust
//! store at `cert.pem` is enough.

use std::path::{Path, PathBuf};

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// Where the certificate comes from.
pub enum TlsSource {
    /// Operator-supplied PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated on first start under `dir`, reused afterwards.
    SelfSigned { dir: PathBuf },
}

/// The loaded configuration and, for a generated certificate, the file clients should trust.
pub struct Tls {
    pub config: RustlsConfig,
    pub trust_file: Option<PathBuf>,
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
        }),
        TlsSource::SelfSigned { dir } => {
            let cert = dir.join("cert.pem");
            let key = dir.join("key.pem");
            if !cert.exists() || !key.exists() {
                generate(&dir, &cert, &key)?;
                tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate for localhost");
            }
            Ok(Tls {
                config: RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .with_context(|| format!("cannot load TLS certificate {}", cert.display()))?,
                trust_file: Some(cert),
            })
        }
    }
}

fn generate(dir: &Path, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Callsign local CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;

    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_private(key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, format!("{}{}", cert.pem(), ca.pem()))
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    Ok(())
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
