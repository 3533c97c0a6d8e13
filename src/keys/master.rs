//! The master key and envelope encryption: every access and signing key is stored sealed with
//! AES-256-GCM under the master key, bound to its key id and purpose as associated data.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "the master key must be 32 bytes encoded in base64 (generate one with `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error(
        "a stored key could not be decrypted: the master key is not the one it was sealed with, or the data is corrupt"
    )]
    Unseal,
    #[error("sealing failed")]
    Seal,
}

/// The key-encryption key. Never logged, never stored in the database.
pub struct MasterKey(SecretBox<[u8; 32]>);

/// The event transmitter seals what it stores with the same key as the key ring.
impl Clone for MasterKey {
    fn clone(&self) -> Self {
        MasterKey(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let key = Key::<Aes256Gcm>::generate();
        MasterKey(SecretBox::new(Box::new(key.into())))
    }

    pub fn from_base64(encoded: &str) -> Result<Self, MasterKeyError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| MasterKeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(MasterKey(SecretBox::new(Box::new(key))))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.expose_secret())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.0.expose_secret()).into())
    }

    /// Encrypts `plaintext`; the output is `nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| MasterKeyError::Seal)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts what [`MasterKey::seal`] produced with the same associated data.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(MasterKeyError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| MasterKeyError::Unseal)?;
        self.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| MasterKeyError::Unseal)
    }
}

/// The master key, and during a master-key rotation the one it replaces: keys are sealed with
/// the current one and opened with either.
#[derive(Clone)]
pub struct MasterKeys {
    current: MasterKey,
    previous: Option<MasterKey>,
}

impl From<MasterKey> for MasterKeys {
    fn from(current: MasterKey) -> Self {
        MasterKeys {
            current,
            previous: None,
        }
    }
}

impl MasterKeys {
    pub fn rotating(current: MasterKey, previous: Option<MasterKey>) -> Self {
        MasterKeys { current, previous }
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        self.current.seal(plaintext, aad)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        self.current
            .open(sealed, aad)
            .or_else(|error| match &self.previous {
                Some(previous) => previous.open(sealed, aad),
                None => Err(error),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_associated_data() {
        let master = MasterKey::generate();
        let sealed = master.seal(b"secret", b"kid-1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(master.open(&sealed, b"kid-1").unwrap(), b"secret");
        assert!(master.open(&sealed, b"kid-2").is_err());
    }

    #[test]
    fn another_master_key_cannot_open() {
        let sealed = MasterKey::generate().seal(b"secret", b"").unwrap();
        assert!(MasterKey::generate().open(&sealed, b"").is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let master = MasterKey::generate();
        let mut sealed = master.seal(b"secret", b"").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(master.open(&sealed, b"").is_err());
        assert!(master.open(&[1, 2, 3], b"").is_err());
    }

    #[test]
    fn encoding_round_trips_and_short_keys_are_refused() {
        let master = MasterKey::generate();
        let again = MasterKey::from_base64(&master.to_base64()).unwrap();
        let sealed = master.seal(b"x", b"").unwrap();
        assert_eq!(again.open(&sealed, b"").unwrap(), b"x");
        assert!(MasterKey::from_base64(&STANDARD.encode([7u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }
}
