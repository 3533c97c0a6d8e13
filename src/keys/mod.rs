//! The key ring. Two access keys (primary, secondary) authenticate backends' signed requests
//! ([`access`]). Tokens are signed with signing keys ([`signing`]) that have states, as kanidm
//! models them: *valid* (one per slot: it signs), *retained* (rotated out: verifies until the
//! last token it could have signed has expired), *revoked* (its tokens are dead).
//!
//! - A request authenticated by an access key gets tokens signed by its slot's valid key.
//! - Callers without an access key (app users, guests, bearer-authenticated backends) get tokens
//!   signed by the **primary** slot's valid key ([`RingState::service_signer`]).
//! - Regenerating an access key revokes every signing key of its slot: all their tokens die.
//! - Rotating signing keys (`callsign keys rotate-signing`) retains the old ones: no token dies.
//!
//! Keys live in the database sealed with the master key ([`master`]); each instance holds the
//! live ones in memory ([`ring`]); [`service`] bootstraps, reloads, regenerates and rotates them.

mod access;
pub mod asymmetric;
mod master;
mod ring;
mod sealing;
mod service;
mod signing;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use crate::vocabulary::KeySlot;
pub use access::AccessKey;
pub use asymmetric::{KeyAlgorithm, KeyPair, KeyPairError};
pub use master::{MasterKey, MasterKeyError, MasterKeys};
pub use ring::{KeyRing, RingState};
pub use service::{Bootstrap, KeyError, KeyService, SeedKeys};
pub use signing::{SigningKey, SigningKeyState, TokenAlgorithm};

/// The least any key may have: 256 bits.
pub const MIN_KEY_LEN: usize = 32;

/// Decodes an access key given in configuration and checks it is strong enough.
pub fn decode_access_key(encoded: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "an access key must be base64-encoded".to_owned())?;
    check_strength(&bytes)?;
    Ok(bytes)
}

/// Refuses keys under 256 bits and keys that are plainly not random.
pub(crate) fn check_strength(key: &[u8]) -> Result<(), String> {
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

pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>, KeyError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_repetitive_keys_are_refused() {
        // Each key breaks one rule only: 31 distinct bytes are short but not repetitive; 64
        // bytes of one value are long enough but repetitive.
        let short: Vec<u8> = (0u8..31).map(|i| i.wrapping_mul(151) ^ 0x5a).collect();
        let error = decode_access_key(&STANDARD.encode(&short)).unwrap_err();
        assert!(error.contains("at least 256 bits"), "{error}");
        let error = decode_access_key(&STANDARD.encode([7u8; 64])).unwrap_err();
        assert!(error.contains("must be random"), "{error}");
        let fifteen_values: Vec<u8> = (0u8..64).map(|i| (i % 15).wrapping_mul(151)).collect();
        let error = decode_access_key(&STANDARD.encode(&fifteen_values)).unwrap_err();
        assert!(error.contains("must be random"), "{error}");
        let error = decode_access_key("%%%").unwrap_err();
        assert!(error.contains("base64"), "{error}");
        let good: Vec<u8> = (0..32).collect();
        assert_eq!(decode_access_key(&STANDARD.encode(&good)).unwrap(), good);
    }

    #[test]
    fn generated_keys_are_strong_and_distinct() {
        let a = AccessKey::generate(KeySlot::Primary, 0).unwrap();
        let b = AccessKey::generate(KeySlot::Primary, 0).unwrap();
        assert_ne!(a.kid(), b.kid());
        assert_ne!(a.to_base64(), b.to_base64());
        assert!(decode_access_key(&a.to_base64()).is_ok());
        let weak = AccessKey::configured(KeySlot::Primary, vec![1; 64], 0).unwrap_err();
        assert!(weak.to_string().contains("must be random"), "{weak}");
    }

    #[test]
    fn slots_parse_case_insensitively() {
        assert_eq!(KeySlot::parse("Primary"), Some(KeySlot::Primary));
        assert_eq!(KeySlot::parse("SECONDARY"), Some(KeySlot::Secondary));
        assert_eq!(KeySlot::parse("tertiary"), None);
    }
}
