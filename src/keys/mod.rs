//! The key ring: two access keys (primary, secondary) that backends sign requests with, each
//! paired with the token-signing key that mints tokens for requests it authenticated. Keys live
//! in the database sealed with the master key ([`master`]); each instance holds the active ones
//! in memory ([`ring`]); [`service`] bootstraps and regenerates them.

pub mod master;
pub mod ring;
pub mod service;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretSlice};
use uuid::Uuid;

pub use master::{MasterKey, MasterKeyError};
pub use ring::{ActiveKey, KeyRing, RingState};
pub use service::{Bootstrap, KeyError, KeyService};

/// Bytes in a generated access key (512 bits, as ACS generates them).
const ACCESS_KEY_LEN: usize = 64;
/// Bytes in a token-signing key (256 bits, HS256's block-sized minimum we accept).
const SIGNING_KEY_LEN: usize = 32;
/// The least any key may have.
pub const MIN_KEY_LEN: usize = 32;

/// Which of the two access keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySlot {
    Primary,
    Secondary,
}

impl KeySlot {
    pub const BOTH: [KeySlot; 2] = [KeySlot::Primary, KeySlot::Secondary];

    pub fn as_str(self) -> &'static str {
        match self {
            KeySlot::Primary => "primary",
            KeySlot::Secondary => "secondary",
        }
    }

    /// Case-insensitive, as ARM's `keyType` (`Primary`, `Secondary`).
    pub fn parse(name: &str) -> Option<KeySlot> {
        KeySlot::BOTH
            .into_iter()
            .find(|slot| slot.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One access key with its paired signing key, in plaintext (only ever in memory).
pub struct Credential {
    pub kid: String,
    pub slot: KeySlot,
    pub access_key: SecretSlice<u8>,
    pub signing_key: SecretSlice<u8>,
    pub created_at_ms: i64,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kid", &self.kid)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Fresh random keys for `slot`.
    pub fn generate(slot: KeySlot, now_ms: i64) -> Result<Self, KeyError> {
        Self::with_access_key(slot, random_bytes(ACCESS_KEY_LEN)?, now_ms)
    }

    /// An operator-supplied access key with a fresh signing key.
    pub fn with_access_key(
        slot: KeySlot,
        access_key: Vec<u8>,
        now_ms: i64,
    ) -> Result<Self, KeyError> {
        check_strength(&access_key).map_err(KeyError::Weak)?;
        Ok(Credential {
            kid: Uuid::new_v4().simple().to_string(),
            slot,
            access_key: access_key.into(),
            signing_key: random_bytes(SIGNING_KEY_LEN)?.into(),
            created_at_ms: now_ms,
        })
    }

    /// The access key as a backend pastes it into a connection string.
    pub fn access_key_base64(&self) -> String {
        STANDARD.encode(self.access_key.expose_secret())
    }
}

/// Decodes an access key given in configuration and checks it is strong enough.
pub fn decode_access_key(encoded: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "an access key must be base64-encoded".to_owned())?;
    check_strength(&bytes)?;
    Ok(bytes)
}

/// Refuses keys under 256 bits and keys that are plainly not random.
fn check_strength(key: &[u8]) -> Result<(), String> {
    if key.len() < MIN_KEY_LEN {
        return Err(format!(
            "an access key must have at least {} bits; this one has {}",
            MIN_KEY_LEN * 8,
            key.len() * 8
        ));
    }
    let mut seen = [false; 256];
    key.iter().for_each(|&b| seen[usize::from(b)] = true);
    if seen.iter().filter(|&&s| s).count() < 16 {
        return Err("an access key must be random; this one repeats a few byte values".into());
    }
    Ok(())
}

fn random_bytes(len: usize) -> Result<Vec<u8>, KeyError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_repetitive_keys_are_refused() {
        assert!(decode_access_key(&STANDARD.encode([1u8; 16])).is_err());
        assert!(decode_access_key(&STANDARD.encode([7u8; 64])).is_err());
        assert!(decode_access_key("%%%").is_err());
        let good: Vec<u8> = (0..32).collect();
        assert_eq!(decode_access_key(&STANDARD.encode(&good)).unwrap(), good);
    }

    #[test]
    fn generated_keys_are_strong_and_distinct() {
        let a = Credential::generate(KeySlot::Primary, 0).unwrap();
        let b = Credential::generate(KeySlot::Primary, 0).unwrap();
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.access_key_base64(), b.access_key_base64());
        assert!(decode_access_key(&a.access_key_base64()).is_ok());
        assert_eq!(a.signing_key.expose_secret().len(), 32);
    }

    #[test]
    fn slots_parse_case_insensitively() {
        assert_eq!(KeySlot::parse("Primary"), Some(KeySlot::Primary));
        assert_eq!(KeySlot::parse("SECONDARY"), Some(KeySlot::Secondary));
        assert_eq!(KeySlot::parse("tertiary"), None);
    }
}
