//! Access keys: the shared secrets backends sign requests with (`accesskey=` in a connection
//! string). Only constructors that check strength exist, so no weak key gets in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretSlice};
use uuid::Uuid;

use crate::auth::hmac::RequestKey;

use super::{KeyError, KeySlot, check_strength, random_bytes};

/// Bytes in a generated access key (512 bits, as ACS generates them).
const GENERATED_LEN: usize = 64;

/// An access key in plaintext (only ever in memory). No `Debug` beyond its id.
pub struct AccessKey {
    kid: String,
    slot: KeySlot,
    secret: SecretSlice<u8>,
    /// The secret, keyed into HMAC once for every request signature checked with it.
    request_key: RequestKey,
    created_at_ms: i64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("kid", &self.kid)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    /// A fresh random key for `slot`.
    pub fn generate(slot: KeySlot, now_ms: i64) -> Result<Self, KeyError> {
        Self::configured(slot, random_bytes(GENERATED_LEN)?, now_ms)
    }

    /// An operator-supplied key, refused unless strong enough.
    pub fn configured(slot: KeySlot, secret: Vec<u8>, now_ms: i64) -> Result<Self, KeyError> {
        Self::stored(Uuid::new_v4().simple().to_string(), slot, secret, now_ms)
    }

    /// A key read back from the store, checked again (it was checked when stored).
    pub(super) fn stored(
        kid: String,
        slot: KeySlot,
        secret: Vec<u8>,
        created_at_ms: i64,
    ) -> Result<Self, KeyError> {
        check_strength(&secret).map_err(KeyError::Weak)?;
        let request_key = RequestKey::new(&secret)
            .ok_or_else(|| KeyError::Weak("HMAC-SHA256 cannot take this access key".into()))?;
        Ok(AccessKey {
            kid,
            slot,
            secret: secret.into(),
            request_key,
            created_at_ms,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn slot(&self) -> KeySlot {
        self.slot
    }

    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    /// The key for checking request signatures.
    pub fn request_key(&self) -> &RequestKey {
        &self.request_key
    }

    /// The secret, for sealing it at rest.
    pub fn secret(&self) -> &[u8] {
        self.secret.expose_secret()
    }

    /// The key as a backend pastes it into a connection string.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.secret.expose_secret())
    }
}
