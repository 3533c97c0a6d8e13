//! The in-memory key ring every request reads: swapped atomically when keys change, read without
//! locks on the hot path.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{AccessKey, KeyError, KeySlot, SigningKey, SigningKeyState};

/// The active access keys and the live signing keys (valid and retained).
pub struct RingState {
    /// Primary, then secondary.
    access: [AccessKey; 2],
    signing: Vec<SigningKey>,
    /// Index into `signing` of each slot's valid key, primary then secondary.
    signers: [usize; 2],
}

fn index(slot: KeySlot) -> usize {
    match slot {
        KeySlot::Primary => 0,
        KeySlot::Secondary => 1,
    }
}

impl RingState {
    /// Requires one access key and one valid signing key for each slot.
    pub fn new(access: Vec<AccessKey>, signing: Vec<SigningKey>) -> Result<Self, KeyError> {
        let mut by_slot: [Option<AccessKey>; 2] = [None, None];
        for key in access {
            let slot = index(key.slot());
            by_slot[slot] = Some(key);
        }
        let [Some(primary), Some(secondary)] = by_slot else {
            return Err(KeyError::Incomplete(
                "a primary and a secondary access key are required".into(),
            ));
        };
        let signer = |slot: KeySlot| {
            signing
                .iter()
                .position(|key| key.slot() == slot && key.state() == SigningKeyState::Valid)
                .ok_or_else(|| KeyError::Incomplete(format!("no valid signing key for {slot}")))
        };
        let signers = [signer(KeySlot::Primary)?, signer(KeySlot::Secondary)?];
        Ok(RingState {
            access: [primary, secondary],
            signing,
            signers,
        })
    }

    pub fn access_key(&self, slot: KeySlot) -> &AccessKey {
        &self.access[index(slot)]
    }

    /// Both access keys, primary first.
    pub fn access_keys(&self) -> &[AccessKey; 2] {
        &self.access
    }

    /// The valid signing key of `slot`: it signs tokens for requests that slot's access key
    /// authenticated.
    pub fn signer(&self, slot: KeySlot) -> &SigningKey {
        &self.signing[self.signers[index(slot)]]
    }

    /// The key that signs for callers without an access key (app users, guests, backends with
    /// a bearer token): the primary slot's valid key.
    pub fn service_signer(&self) -> &SigningKey {
        self.signer(KeySlot::Primary)
    }

    /// Every live signing key: valid and retained.
    pub fn signing_keys(&self) -> &[SigningKey] {
        &self.signing
    }

    /// The signing key with this `kid`, if it still verifies at `now_ms`: the only way a
    /// verifier picks a key.
    pub fn verifier(&self, kid: &str, now_ms: i64) -> Option<&SigningKey> {
        self.signing
            .iter()
            .find(|key| key.kid() == kid)
            .filter(|key| key.verifies_at(now_ms))
    }
}

/// The shared, atomically replaceable ring.
pub struct KeyRing(ArcSwap<RingState>);

impl KeyRing {
    pub fn new(state: RingState) -> Self {
        KeyRing(ArcSwap::from_pointee(state))
    }

    /// The current keys; cheap, lock-free.
    pub fn load(&self) -> Arc<RingState> {
        self.0.load_full()
    }

    pub fn replace(&self, state: RingState) {
        self.0.store(Arc::new(state));
    }
}
