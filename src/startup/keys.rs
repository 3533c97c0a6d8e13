//! The key ring at start-up: the master key (configured, or generated once for SQLite), the
//! access keys that seed an empty ring, and the key service over the store.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::{Bootstrap, KeyService, MasterKey, MasterKeys, SeedKeys, decode_access_key};
use crate::private_files;
use crate::store::{Backend, Store};

/// The master key (with the one it replaces, during a rotation).
pub fn master_keys(config: &Config, backend: Backend) -> anyhow::Result<MasterKeys> {
    let previous = match config.previous_master_key_secret()? {
        Some(encoded) => Some(
            MasterKey::from_base64(&encoded).context("CALLSIGN_PREVIOUS_MASTER_KEY is invalid")?,
        ),
        None => None,
    };
    Ok(MasterKeys::rotating(master_key(config, backend)?, previous))
}

/// The master key: configured, or (SQLite only) generated into the data directory once.
pub fn master_key(config: &Config, backend: Backend) -> anyhow::Result<MasterKey> {
    let path = match find_master_key(config, backend)? {
        FoundMasterKey::Configured(key) | FoundMasterKey::Stored(_, key) => return Ok(key),
        FoundMasterKey::Missing(path) => path,
    };
    private_files::create_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let key = MasterKey::generate();
    private_files::write_new(&path, key.to_base64().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "generated a master key for the stored keys; back it up (without it they cannot be read)"
    );
    Ok(key)
}

/// Where the master key comes from, as far as it exists already.
pub(super) enum FoundMasterKey {
    /// `CALLSIGN_MASTER_KEY` (or its file).
    Configured(MasterKey),
    /// Generated into the data directory on an earlier start (SQLite).
    Stored(PathBuf, MasterKey),
    /// None yet: SQLite generates one into this file.
    Missing(PathBuf),
}

/// The master key configured or generated earlier, or the file SQLite would generate it into;
/// an error where a configured or stored key is unreadable, or PostgreSQL has none.
pub(super) fn find_master_key(config: &Config, backend: Backend) -> anyhow::Result<FoundMasterKey> {
    if let Some(encoded) = config.master_key_secret()? {
        let key = MasterKey::from_base64(&encoded).context("CALLSIGN_MASTER_KEY is invalid")?;
        return Ok(FoundMasterKey::Configured(key));
    }
    if backend == Backend::Postgres {
        bail!(
            "CALLSIGN_MASTER_KEY is required with PostgreSQL (every instance must share it): \
             generate one with `openssl rand -base64 32`"
        );
    }
    let path = config.data_dir.join("master.key");
    if !path.exists() {
        return Ok(FoundMasterKey::Missing(path));
    }
    let encoded = private_files::read_owner_only(&path)
        .with_context(|| format!("cannot use {}", path.display()))?;
    let key = MasterKey::from_base64(&encoded)
        .with_context(|| format!("{} is not a valid master key", path.display()))?;
    Ok(FoundMasterKey::Stored(path, key))
}

pub(super) fn seed_keys(config: &Config) -> anyhow::Result<Option<SeedKeys>> {
    match config.seed_key_secrets()? {
        (None, None) => Ok(None),
        (Some(primary), Some(secondary)) => Ok(Some(SeedKeys {
            primary: decode_access_key(&primary)
                .map_err(anyhow::Error::msg)
                .context("CALLSIGN_PRIMARY_KEY is refused")?,
            secondary: decode_access_key(&secondary)
                .map_err(anyhow::Error::msg)
                .context("CALLSIGN_SECONDARY_KEY is refused")?,
        })),
        _ => bail!("set both CALLSIGN_PRIMARY_KEY and CALLSIGN_SECONDARY_KEY, or neither"),
    }
}

/// The key service over an open store (also used by the `keys` CLI).
pub async fn key_service(
    config: &Config,
    store: Arc<dyn Store>,
    clock: SharedClock,
    audit: Arc<Audit>,
) -> anyhow::Result<(KeyService, Bootstrap)> {
    let seed = seed_keys(config)?;
    let master = master_keys(config, store.backend())?;
    let seeded = seed.is_some();
    let (keys, bootstrap) =
        KeyService::bootstrap(store, master, seed, clock, audit, config.token_algorithm)
            .await
            .context("cannot load the key ring")?;
    if bootstrap == Bootstrap::Loaded && seeded {
        tracing::warn!(
            "CALLSIGN_PRIMARY_KEY/SECONDARY_KEY ignored: the stored key ring is authoritative"
        );
    }
    Ok((keys, bootstrap))
}
