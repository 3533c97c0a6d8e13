//! Secrets read from files, as container platforms mount them (Docker and Kubernetes secrets):
//! each `…_FILE` variable is the path of a file holding the value of its twin. Giving both is
//! refused.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

#[derive(Args, Clone, Default)]
pub struct SecretFiles {
    /// A file holding `DATABASE_URL`.
    #[arg(
        long,
        env = "DATABASE_URL_FILE",
        conflicts_with = "database_url",
        global = true
    )]
    pub database_url_file: Option<PathBuf>,
    /// A file holding `CALLSIGN_MASTER_KEY`.
    #[arg(
        long,
        env = "CALLSIGN_MASTER_KEY_FILE",
        conflicts_with = "master_key",
        global = true
    )]
    pub master_key_file: Option<PathBuf>,
    /// A file holding `CALLSIGN_PREVIOUS_MASTER_KEY`.
    #[arg(
        long,
        env = "CALLSIGN_PREVIOUS_MASTER_KEY_FILE",
        conflicts_with = "previous_master_key",
        global = true
    )]
    pub previous_master_key_file: Option<PathBuf>,
    /// A file holding `CALLSIGN_PRIMARY_KEY`.
    #[arg(
        long,
        env = "CALLSIGN_PRIMARY_KEY_FILE",
        conflicts_with = "primary_key",
        global = true
    )]
    pub primary_key_file: Option<PathBuf>,
    /// A file holding `CALLSIGN_SECONDARY_KEY`.
    #[arg(
        long,
        env = "CALLSIGN_SECONDARY_KEY_FILE",
        conflicts_with = "secondary_key",
        global = true
    )]
    pub secondary_key_file: Option<PathBuf>,
}

/// The value given directly, or else the (trimmed) contents of its file.
pub fn secret(value: &Option<String>, file: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(value), _) => Ok(Some(value.clone())),
        (None, Some(path)) => read(path).map(Some),
        (None, None) => Ok(None),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    let contents = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret file {}", path.display()))?;
    Ok(contents.trim().to_owned())
}
