//! The in-memory key ring every request reads: swapped atomically when keys change, read without
//! locks on the hot path.

use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::ExposeSecret;

use super::{Credential, KeySlot};

/// An active access key with the prepared signing and verifying keys of its pair.
pub struct ActiveKey {
    pub credential: Credential,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

impl ActiveKey {
    pub fn new(credential: Credential) -> Self {
        let secret = credential.signing_key.expose_secret();
        ActiveKey {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            credential,
        }
    }

    pub fn kid(&self) -> &str {
        &self.credential.kid
    }
}

/// The two active keys. A regenerated key is simply no longer here, so its tokens fail
/// verification by `kid`.
pub struct RingState {
    primary: ActiveKey,
    secondary: ActiveKey,
}

impl RingState {
    pub fn new(primary: ActiveKey, secondary: ActiveKey) -> Self {
        RingState { primary, secondary }
    }

    pub fn get(&self, slot: KeySlot) -> &ActiveKey {
        match slot {
            KeySlot::Primary => &self.primary,
            KeySlot::Secondary => &self.secondary,
        }
    }

    /// Both active keys, primary first.
    pub fn both(&self) -> [&ActiveKey; 2] {
        [&self.primary, &self.secondary]
    }

    /// The active key with this `kid`: the only way a verifier picks a key.
    pub fn by_kid(&self, kid: &str) -> Option<&ActiveKey> {
        self.both().into_iter().find(|key| key.kid() == kid)
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
