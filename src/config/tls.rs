//! How Callsign serves HTTPS: on or off, a configured certificate or a generated one, and the
//! names a generated certificate covers.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Serve HTTPS (a generated localhost certificate unless one is configured).
    On,
    /// Serve plain HTTP, e.g. behind a TLS-terminating proxy. The Azure SDKs need HTTPS.
    Off,
}

#[derive(Args, Clone)]
pub struct TlsConfig {
    /// HTTPS (`on`, default) or plain HTTP (`off`).
    #[arg(
        id = "tls",
        long = "tls",
        env = "CALLSIGN_TLS",
        value_enum,
        default_value = "on",
        global = true
    )]
    pub mode: TlsMode,
    /// PEM certificate chain; with `--tls-key`, replaces the generated certificate. Reloaded
    /// when the files change or on SIGHUP.
    #[arg(long, env = "CALLSIGN_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "CALLSIGN_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Host names and IP addresses the generated certificate covers, comma-separated (e.g. a
    /// service name in a cluster). Changing them makes a new certificate.
    #[arg(
        long,
        env = "CALLSIGN_TLS_NAMES",
        value_delimiter = ',',
        default_value = "localhost,127.0.0.1",
        global = true
    )]
    pub tls_names: Vec<String>,
}
