//! Token-signing keys (HS256) and their states. Verification picks a key by `kid` and asks it
//! whether it still verifies at the verifier's time.

use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use uuid::Uuid;

use super::{KeyError, KeySlot, random_bytes};

/// Bytes in a signing key: 256 bits.
const SIGNING_KEY_LEN: usize = 32;

/// Where a live signing key is in its life. (Revoked keys are never loaded.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKeyState {
    /// Signs new tokens, and verifies.
    Valid,
    /// Rotated out: verifies tokens until `until_ms`, signs nothing.
    Retained { until_ms: i64 },
}

/// A signing key with its prepared JWT keys. No `Debug` beyond its id.
pub struct SigningKey {
    kid: String,
    slot: KeySlot,
    state: SigningKeyState,
    created_at_ms: i64,
    secret: SecretSlice<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("slot", &self.slot)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh valid key for `slot`.
    pub fn generate(slot: KeySlot, now_ms: i64) -> Result<Self, KeyError> {
        Ok(Self::new(
            Uuid::new_v4().simple().to_string(),
            slot,
            SigningKeyState::Valid,
            now_ms,
            random_bytes(SIGNING_KEY_LEN)?,
        ))
    }

    pub(crate) fn new(
        kid: String,
        slot: KeySlot,
        state: SigningKeyState,
        created_at_ms: i64,
        secret: Vec<u8>,
    ) -> Self {
        SigningKey {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            kid,
            slot,
            state,
            created_at_ms,
            secret: secret.into(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn slot(&self) -> KeySlot {
        self.slot
    }

    pub fn state(&self) -> SigningKeyState {
        self.state
    }

    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Whether a token signed by this key may still verify at `now_ms`.
    pub fn verifies_at(&self, now_ms: i64) -> bool {
        match self.state {
            SigningKeyState::Valid => true,
            SigningKeyState::Retained { until_ms } => now_ms < until_ms,
        }
    }

    pub(super) fn secret(&self) -> &[u8] {
        self.secret.expose_secret()
    }
}
