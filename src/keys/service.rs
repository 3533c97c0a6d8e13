//! Key ring life cycle against the store: first-start bootstrap, reload when another instance
//! changed the keys, regeneration of an access key (which, as in ACS, kills every token its slot
//! signed) and rotation of signing keys (which kills none).

use std::sync::Arc;

use super::sealing::{load_state, reseal_all, seal_access, seal_signing};
use super::{
    AccessKey, KeyRing, KeySlot, MasterKeyError, MasterKeys, RingState, SigningKey, TokenAlgorithm,
};
use serde_json::json;

use crate::audit::{Action, Audit, AuditBacklogged, AuditEvent};
use crate::auth::hmac::MAX_CLOCK_SKEW_SECS;
use crate::clock::SharedClock;
use crate::revocation::RETENTION_MS;
use crate::store::{KeyStore, StoreError};

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
    store: Arc<dyn KeyStore>,
    master: MasterKeys,
    /// What new token-signing keys are.
    algorithm: TokenAlgorithm,
    ring: Arc<KeyRing>,
    clock: SharedClock,
    audit: Arc<Audit>,
    /// Serialises read-then-replace of the ring, so a resync that read the store before a
    /// change committed cannot put the old keys back after it.
    changing: tokio::sync::Mutex<()>,
}

impl KeyService {
    /// Loads the ring, creating it on first start (from `seed` if given, else random keys);
    /// new signing keys are of `algorithm`.
    pub async fn bootstrap(
        store: Arc<dyn KeyStore>,
        master: MasterKeys,
        seed: Option<SeedKeys>,
        clock: SharedClock,
        audit: Arc<Audit>,
        algorithm: TokenAlgorithm,
    ) -> Result<(Self, Bootstrap), KeyError> {
        let now_ms = clock.now_ms();
        let mut outcome = Bootstrap::Loaded;
        if store.active_access_keys().await?.is_empty() {
            let (access, fresh) = match seed {
                Some(seed) => (
                    [
                        AccessKey::configured(KeySlot::Primary, seed.primary, now_ms)?,
                        AccessKey::configured(KeySlot::Secondary, seed.secondary, now_ms)?,
                    ],
                    Bootstrap::Seeded,
                ),
                None => (
                    [
                        AccessKey::generate(KeySlot::Primary, now_ms)?,
                        AccessKey::generate(KeySlot::Secondary, now_ms)?,
                    ],
                    Bootstrap::Generated,
                ),
            };
            let signing = [
                fresh_signing_key(KeySlot::Primary, now_ms, algorithm).await?,
                fresh_signing_key(KeySlot::Secondary, now_ms, algorithm).await?,
            ];
            let access = access
                .iter()
                .map(|key| seal_access(&master, key))
                .collect::<Result<Vec<_>, _>>()?;
            let signing = signing
                .iter()
                .map(|key| seal_signing(&master, key))
                .collect::<Result<Vec<_>, _>>()?;
            // Another instance may have raced us to it; then its keys win.
            if store.insert_initial_keys(&access, &signing).await? {
                outcome = fresh;
            }
        }
        let state = load_state(store.as_ref(), &master, now_ms).await?;
        let service = KeyService {
            store,
            master,
            algorithm,
            ring: Arc::new(KeyRing::new(state)),
            clock,
            audit,
            changing: tokio::sync::Mutex::new(()),
        };
        Ok((service, outcome))
    }

    /// Gives each slot whose valid signing key is not of the configured algorithm one that is
    /// (the server does at start); the old key is retained, so no token dies.
    pub async fn adopt_algorithm(&self) -> Result<(), KeyError> {
        for slot in KeySlot::BOTH {
            if self.ring.load().signer(slot).algorithm() != self.algorithm {
                self.rotate_signing(slot).await?;
            }
        }
        Ok(())
    }

    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.ring
    }

    /// Re-reads the keys (another instance changed them, or retained keys ran out).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _changing = self.changing.lock().await;
        self.reload_locked().await
    }

    /// The access keys, for an administrator to read: the listing is audited like a change,
    /// since whoever reads them holds them, and the keys are not shown unless the event is
    /// queued (waiting for room as an issued token does).
    pub async fn reveal(&self) -> Result<Arc<RingState>, AuditBacklogged> {
        self.audit
            .record_issue(
                AuditEvent::about_app_user(Action::AccessKeyListed, None)
                    .with_details(json!({ "slots": ["primary", "secondary"] })),
            )
            .await?;
        Ok(self.ring.load())
    }

    /// Admits a signed key-administration request once: `false` if a request with the same
    /// signature was admitted before, on any instance. A signature is remembered until its
    /// date could no longer pass the signature check's skew window (its date may lie up to
    /// the skew ahead of now, and is accepted until the skew after it), with a minute to spare
    /// for the check's whole-second rounding and for instances' clocks, since each instance
    /// forgets what its own clock says has expired.
    pub async fn use_signature_once(&self, digest: &[u8; 32]) -> Result<bool, KeyError> {
        let now_ms = self.clock.now_ms();
        let remembered_ms = (2 * MAX_CLOCK_SKEW_SECS + 60) * 1000;
        Ok(self
            .store
            .use_signature(digest, now_ms, now_ms + remembered_ms)
            .await?)
    }

    /// Replaces the access key of `slot` with a fresh one, with a fresh signing key: every
    /// token the slot's signing keys minted dies; the other slot is untouched. Returns once
    /// committed and applied to this instance's ring.
    pub async fn regenerate(&self, slot: KeySlot) -> Result<(), KeyError> {
        let now_ms = self.clock.now_ms();
        let access = AccessKey::generate(slot, now_ms)?;
        let signing = fresh_signing_key(slot, now_ms, self.algorithm).await?;
        let _changing = self.changing.lock().await;
        self.store
            .replace_access_key(
                &seal_access(&self.master, &access)?,
                &seal_signing(&self.master, &signing)?,
                now_ms,
            )
            .await?;
        self.record(Action::AccessKeyRegenerated, slot);
        self.reload_locked().await
    }

    /// Gives `slot` a fresh valid signing key; the old one is retained until every token it
    /// could have signed has expired, so no token dies.
    pub async fn rotate_signing(&self, slot: KeySlot) -> Result<(), KeyError> {
        let now_ms = self.clock.now_ms();
        let signing = fresh_signing_key(slot, now_ms, self.algorithm).await?;
        let _changing = self.changing.lock().await;
        self.store
            .rotate_signing_key(
                &seal_signing(&self.master, &signing)?,
                retained_until(now_ms),
            )
            .await?;
        self.record(Action::SigningKeyRotated, slot);
        self.reload_locked().await
    }

    /// Master-key rotation: re-seals every stored key under the current master key, so the
    /// previous one is no longer needed. Returns how many keys were re-sealed.
    pub async fn reseal(&self) -> Result<usize, KeyError> {
        let _changing = self.changing.lock().await;
        // A key changed by another instance between reading and writing: read again.
        for _ in 0..5 {
            if let Some(count) =
                reseal_all(self.store.as_ref(), &self.master, self.clock.now_ms()).await?
            {
                self.audit.record(
                    AuditEvent::about_app_user(Action::MasterKeyRotated, None)
                        .with_details(json!({ "keys": count })),
                );
                return Ok(count);
            }
        }
        Err(KeyError::Incomplete(
            "the stored keys kept changing while being re-sealed; try again".into(),
        ))
    }

    fn record(&self, action: Action, slot: KeySlot) {
        self.audit.record(AuditEvent {
            action,
            identity: None,
            app_user: None,
            details: Some(json!({ "slot": slot.as_str() }).to_string()),
        });
    }

    async fn reload_locked(&self) -> Result<(), KeyError> {
        let state = load_state(self.store.as_ref(), &self.master, self.clock.now_ms()).await?;
        self.ring.replace(state);
        Ok(())
    }
}

/// A new signing key, generated off the async threads (an RSA key takes a while).
async fn fresh_signing_key(
    slot: KeySlot,
    now_ms: i64,
    algorithm: TokenAlgorithm,
) -> Result<SigningKey, KeyError> {
    tokio::task::spawn_blocking(move || SigningKey::generate(slot, now_ms, algorithm))
        .await
        .map_err(|e| KeyError::Random(e.to_string()))?
}

/// Until when a signing key rotated out at `now_ms` keeps verifying: past the expiry of the
/// longest-lived token it could have signed, with the same skew margin revocation state has.
pub fn retained_until(now_ms: i64) -> i64 {
    now_ms + RETENTION_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::keys::{MasterKey, SigningKeyState};
    use crate::testing::{Fixture, chat_request};
    use crate::vocabulary::IdentityId;

    fn mint(f: &Fixture, slot: KeySlot) -> String {
        let ring = f.keys.ring().load();
        f.tokens
            .mint(
                IdentityId::generate(),
                &chat_request(),
                ring.signer(slot),
                f.clock.now(),
            )
            .unwrap()
            .token
    }

    #[tokio::test]
    async fn rotating_a_signing_key_kills_no_token_until_it_has_expired() {
        let f = Fixture::new().await;
        let old = mint(&f, KeySlot::Primary);
        let old_kid = f
            .keys
            .ring()
            .load()
            .signer(KeySlot::Primary)
            .kid()
            .to_owned();

        f.keys.rotate_signing(KeySlot::Primary).await.unwrap();
        let ring = f.keys.ring().load();
        assert_ne!(ring.signer(KeySlot::Primary).kid(), old_kid);
        assert!(f.is_active(&old));
        let new = mint(&f, KeySlot::Primary);
        assert!(f.is_active(&new));

        // The retained key verifies until its retention ends (the token itself lives 1 h).
        let retained = ring.verifier(&old_kid, f.clock.now_ms()).unwrap();
        let until = retained_until(crate::testing::START.unix_timestamp() * 1000);
        assert_eq!(
            retained.state(),
            SigningKeyState::Retained { until_ms: until }
        );
        assert!(ring.verifier(&old_kid, until - 1).is_some());
        assert!(ring.verifier(&old_kid, until).is_none());
        // And a reload after that forgets it.
        f.clock.advance(time::Duration::milliseconds(RETENTION_MS));
        f.keys.reload().await.unwrap();
        let ring = f.keys.ring().load();
        assert_eq!(ring.signing_keys().len(), 2);
        assert!(ring.verifier(&old_kid, f.clock.now_ms()).is_none());
    }

    #[tokio::test]
    async fn regenerating_an_access_key_kills_its_slots_tokens_only() {
        let f = Fixture::new().await;
        f.keys.rotate_signing(KeySlot::Secondary).await.unwrap();
        let primary = mint(&f, KeySlot::Primary);
        let secondary = mint(&f, KeySlot::Secondary);
        let old_access = f
            .keys
            .ring()
            .load()
            .access_key(KeySlot::Secondary)
            .to_base64();

        f.keys.regenerate(KeySlot::Secondary).await.unwrap();
        let ring = f.keys.ring().load();
        assert_ne!(ring.access_key(KeySlot::Secondary).to_base64(), old_access);
        assert!(f.is_active(&primary));
        assert!(!f.is_active(&secondary));
        // Both of the slot's signing keys (valid and retained) are revoked: one per slot is left.
        assert_eq!(ring.signing_keys().len(), 2);
        assert!(f.is_active(&mint(&f, KeySlot::Secondary)));
    }

    #[tokio::test]
    async fn callers_without_an_access_key_are_signed_for_by_the_primary_slot() {
        let f = Fixture::new().await;
        let ring = f.keys.ring().load();
        assert_eq!(
            ring.service_signer().kid(),
            ring.signer(KeySlot::Primary).kid()
        );
    }

    #[tokio::test]
    async fn the_stored_ring_opens_only_with_its_master_key() {
        let f = Fixture::new().await;
        let master = MasterKey::generate();
        // A different master key cannot open the stored keys.
        let wrong = KeyService::bootstrap(
            f.store.clone(),
            master.into(),
            None,
            f.clock.clone(),
            f.audit.clone(),
            TokenAlgorithm::Hs256,
        )
        .await;
        assert!(matches!(wrong, Err(KeyError::Master(_))));
    }
}
