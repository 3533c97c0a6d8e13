//! The SET-signing keys in use: loaded from the store, sealed with the master key; the first is
//! generated when first needed (the first stream, or the first JWKS request), so a deployment
//! that never uses event streams never generates one. A rotation retains the old key for as
//! long as a token-signing key is retained, published in the JWKS all along.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{Value, json};

use crate::clock::SharedClock;
use crate::keys::{KeyAlgorithm, KeyPair, KeyPairError, MasterKeyError, MasterKeys};
use crate::revocation::RETENTION_MS;
use crate::store::{EventKeyRecord, EventKeyStore, StoreError};

/// How long a loaded set of keys is trusted before the store is read again (another instance
/// may have rotated them).
const RELOAD_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum EventKeyRingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Master(#[from] MasterKeyError),
    #[error(transparent)]
    Key(#[from] KeyPairError),
    #[error("a stored event-signing key names an unknown algorithm '{0}'")]
    UnknownAlgorithm(String),
    #[error("generating an event-signing key stopped: {0}")]
    Join(String),
}

struct Loaded {
    /// Valid first, then retained.
    keys: Vec<KeyPair>,
    at_ms: i64,
}

pub struct EventKeyRing {
    store: Arc<dyn EventKeyStore>,
    master: MasterKeys,
    algorithm: KeyAlgorithm,
    clock: SharedClock,
    loaded: ArcSwap<Option<Loaded>>,
    /// One generation at a time on this instance.
    generating: tokio::sync::Mutex<()>,
}

pub(super) fn aad(kid: &str, algorithm: KeyAlgorithm) -> Vec<u8> {
    format!("callsign:{kid}:{algorithm}:event-signing").into_bytes()
}

impl EventKeyRing {
    pub fn new(
        store: Arc<dyn EventKeyStore>,
        master: MasterKeys,
        algorithm: KeyAlgorithm,
        clock: SharedClock,
    ) -> Self {
        EventKeyRing {
            store,
            master,
            algorithm,
            clock,
            loaded: ArcSwap::from_pointee(None),
            generating: tokio::sync::Mutex::new(()),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Signs `claims` as a SET with the valid key, generating it if there is none of the
    /// configured algorithm.
    pub async fn sign(&self, claims: &Value) -> Result<String, EventKeyRingError> {
        let loaded = self.current().await?;
        match loaded.as_ref().as_ref().and_then(|l| l.keys.first()) {
            Some(key) => Ok(key.sign("secevent+jwt", claims)?),
            None => Err(EventKeyRingError::Key(KeyPairError::Sign)),
        }
    }

    /// The public keys (valid and retained) as a JWKS document.
    pub async fn jwks(&self) -> Result<Value, EventKeyRingError> {
        let loaded = self.current().await?;
        let keys: Vec<&Value> = loaded
            .as_ref()
            .as_ref()
            .map(|l| l.keys.iter().map(KeyPair::jwk).collect())
            .unwrap_or_default();
        Ok(json!({ "keys": keys }))
    }

    /// A fresh valid key; the one it replaces is retained.
    pub async fn rotate(&self) -> Result<String, EventKeyRingError> {
        let _generating = self.generating.lock().await;
        let kid = self.install(None).await?;
        self.reload().await?;
        Ok(kid)
    }

    /// The loaded keys, read again when stale, with a valid key of the configured algorithm.
    async fn current(&self) -> Result<Arc<Option<Loaded>>, EventKeyRingError> {
        let now_ms = self.clock.now_ms();
        let loaded = self.loaded.load_full();
        if let Some(l) = loaded.as_ref() {
            let fresh = now_ms - l.at_ms < RELOAD_AFTER.as_millis() as i64;
            if fresh && self.has_valid(l) {
                return Ok(loaded);
            }
        }
        self.reload().await?;
        let loaded = self.loaded.load_full();
        if loaded.as_ref().as_ref().is_some_and(|l| self.has_valid(l)) {
            return Ok(loaded);
        }
        let _generating = self.generating.lock().await;
        self.reload().await?;
        if !self
            .loaded
            .load()
            .as_ref()
            .as_ref()
            .is_some_and(|l| self.has_valid(l))
        {
            self.install(Some(self.algorithm)).await?;
            self.reload().await?;
        }
        Ok(self.loaded.load_full())
    }

    fn has_valid(&self, loaded: &Loaded) -> bool {
        loaded
            .keys
            .first()
            .is_some_and(|key| key.algorithm() == self.algorithm)
    }

    async fn reload(&self) -> Result<(), EventKeyRingError> {
        let now_ms = self.clock.now_ms();
        let mut keys = Vec::new();
        for record in self.store.live_event_keys(now_ms).await? {
            let algorithm = KeyAlgorithm::parse(&record.algorithm)
                .ok_or_else(|| EventKeyRingError::UnknownAlgorithm(record.algorithm.clone()))?;
            let pkcs8 = self
                .master
                .open(&record.sealed, &aad(&record.kid, algorithm))?;
            let key = KeyPair::from_pkcs8(record.kid, algorithm, pkcs8)?;
            // Only the newest valid key signs; a key retained is published, never used.
            if record.retained_until_ms.is_none() || !keys.is_empty() {
                keys.push(key);
            } else {
                keys.insert(0, key);
            }
        }
        self.loaded.store(Arc::new(Some(Loaded {
            keys,
            at_ms: now_ms,
        })));
        Ok(())
    }

    /// Generates and stores a key; with `unless`, not if the valid key already has that
    /// algorithm (another instance was first). Returns the new key's id.
    async fn install(&self, unless: Option<KeyAlgorithm>) -> Result<String, EventKeyRingError> {
        let algorithm = self.algorithm;
        let key = tokio::task::spawn_blocking(move || KeyPair::generate(algorithm))
            .await
            .map_err(|e| EventKeyRingError::Join(e.to_string()))??;
        let now_ms = self.clock.now_ms();
        let record = EventKeyRecord {
            kid: key.kid().to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            sealed: self.master.seal(key.pkcs8(), &aad(key.kid(), algorithm))?,
            created_at_ms: now_ms,
            retained_until_ms: None,
        };
        let unless = unless.map(KeyAlgorithm::as_str);
        self.store
            .install_event_key(&record, now_ms + RETENTION_MS, unless)
            .await?;
        Ok(record.kid)
    }
}
