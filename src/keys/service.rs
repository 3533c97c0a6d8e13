//! Key ring life cycle against the store: first-start bootstrap, reload when another instance
//! changed the keys, and regeneration (which, as in ACS, kills every token the old key minted).

use std::sync::Arc;

use secrecy::ExposeSecret;
use time::OffsetDateTime;

use super::{ActiveKey, Credential, KeyRing, KeySlot, MasterKey, MasterKeyError, RingState};
use crate::store::{KeyRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Master(#[from] MasterKeyError),
    #[error("{0}")]
    Weak(String),
    #[error("the key ring is incomplete: {0}")]
    Incomplete(String),
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

/// How the ring came to be at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// Keys were already stored.
    Loaded,
    /// The ring was empty; keys were generated and must be shown to the operator once.
    Generated,
    /// The ring was empty; the configured keys were stored.
    Seeded,
}

/// Access keys an operator configured, used only to seed an empty ring.
pub struct SeedKeys {
    pub primary: Vec<u8>,
    pub secondary: Vec<u8>,
}

pub struct KeyService {
    store: Arc<dyn Store>,
    master: MasterKey,
    ring: Arc<KeyRing>,
    /// Serialises read-then-replace of the ring, so a resync that read the store before a
    /// regeneration committed cannot put the retired key back after it.
    changing: tokio::sync::Mutex<()>,
}

impl KeyService {
    /// Loads the ring, creating it on first start (from `seed` if given, else random keys).
    pub async fn bootstrap(
        store: Arc<dyn Store>,
        master: MasterKey,
        seed: Option<SeedKeys>,
        now_ms: i64,
    ) -> Result<(Self, Bootstrap), KeyError> {
        let mut outcome = Bootstrap::Loaded;
        if store.active_keys().await?.is_empty() {
            let (primary, secondary, fresh) = match seed {
                Some(seed) => (
                    Credential::with_access_key(KeySlot::Primary, seed.primary, now_ms)?,
                    Credential::with_access_key(KeySlot::Secondary, seed.secondary, now_ms)?,
                    Bootstrap::Seeded,
                ),
                None => (
                    Credential::generate(KeySlot::Primary, now_ms)?,
                    Credential::generate(KeySlot::Secondary, now_ms)?,
                    Bootstrap::Generated,
                ),
            };
            let records = [seal(&master, &primary)?, seal(&master, &secondary)?];
            // Another instance may have raced us to it; then its keys win.
            if store.insert_initial_keys(&records).await? {
                outcome = fresh;
            }
        }
        let state = load_state(store.as_ref(), &master).await?;
        let service = KeyService {
            store,
            master,
            ring: Arc::new(KeyRing::new(state)),
            changing: tokio::sync::Mutex::new(()),
        };
        Ok((service, outcome))
    }

    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.ring
    }

    /// Re-reads the active keys (another instance regenerated one).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _changing = self.changing.lock().await;
        self.ring
            .replace(load_state(self.store.as_ref(), &self.master).await?);
        Ok(())
    }

    /// Replaces the key of `slot` with a fresh one; tokens it minted die, the other slot is
    /// untouched. Returns once committed and applied to this instance's ring.
    pub async fn regenerate(&self, slot: KeySlot, now: OffsetDateTime) -> Result<(), KeyError> {
        let now_ms = crate::clock::millis(now);
        let credential = Credential::generate(slot, now_ms)?;
        let _changing = self.changing.lock().await;
        self.store
            .replace_key(&seal(&self.master, &credential)?, now_ms)
            .await?;
        self.ring
            .replace(load_state(self.store.as_ref(), &self.master).await?);
        Ok(())
    }
}

fn aad(kid: &str, slot: &str, purpose: &str) -> Vec<u8> {
    format!("callsign:{kid}:{slot}:{purpose}").into_bytes()
}

fn seal(master: &MasterKey, credential: &Credential) -> Result<KeyRecord, KeyError> {
    let slot = credential.slot.as_str();
    Ok(KeyRecord {
        kid: credential.kid.clone(),
        slot: slot.to_owned(),
        access_key_sealed: master.seal(
            credential.access_key.expose_secret(),
            &aad(&credential.kid, slot, "access"),
        )?,
        signing_key_sealed: master.seal(
            credential.signing_key.expose_secret(),
            &aad(&credential.kid, slot, "signing"),
        )?,
        created_at_ms: credential.created_at_ms,
    })
}

fn unseal(master: &MasterKey, record: &KeyRecord) -> Result<Credential, KeyError> {
    let slot = KeySlot::parse(&record.slot)
        .ok_or_else(|| KeyError::Incomplete(format!("unknown slot '{}'", record.slot)))?;
    Ok(Credential {
        kid: record.kid.clone(),
        slot,
        access_key: master
            .open(
                &record.access_key_sealed,
                &aad(&record.kid, &record.slot, "access"),
            )?
            .into(),
        signing_key: master
            .open(
                &record.signing_key_sealed,
                &aad(&record.kid, &record.slot, "signing"),
            )?
            .into(),
        created_at_ms: record.created_at_ms,
    })
}

async fn load_state(store: &dyn Store, master: &MasterKey) -> Result<RingState, KeyError> {
    let mut primary = None;
    let mut secondary = None;
    for record in store.active_keys().await? {
        let credential = unseal(master, &record)?;
        match credential.slot {
            KeySlot::Primary => primary = Some(ActiveKey::new(credential)),
            KeySlot::Secondary => secondary = Some(ActiveKey::new(credential)),
        }
    }
    match (primary, secondary) {
        (Some(primary), Some(secondary)) => Ok(RingState::new(primary, secondary)),
        _ => Err(KeyError::Incomplete(
            "a primary and a secondary key are required".into(),
        )),
    }
}
