//! Token-signing keys and their states. HS256 by default; ES256 or RS256 with
//! `CALLSIGN_TOKEN_ALGORITHM`, so that the services consuming tokens verify them with the
//! published public keys and no secret. Each key keeps its algorithm: a token is verified only
//! by the algorithm of the key its `kid` names. Verification picks a key by `kid` and asks it
//! whether it still verifies at the verifier's time.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::Value;
use uuid::Uuid;

use super::asymmetric::{KeyAlgorithm, KeyPair};
use super::{KeyError, KeySlot, random_bytes};

/// How access tokens are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum TokenAlgorithm {
    /// HMAC-SHA256 with a 256-bit secret: only Callsign verifies (introspection).
    #[value(name = "HS256")]
    Hs256,
    /// ECDSA P-256: anyone verifies with the JWKS.
    #[value(name = "ES256")]
    Es256,
    /// RSA 2048 PKCS#1 v1.5: anyone verifies with the JWKS.
    #[value(name = "RS256")]
    Rs256,
}

impl TokenAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAlgorithm::Hs256 => "HS256",
            TokenAlgorithm::Es256 => "ES256",
            TokenAlgorithm::Rs256 => "RS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            TokenAlgorithm::Hs256,
            TokenAlgorithm::Es256,
            TokenAlgorithm::Rs256,
        ]
        .into_iter()
        .find(|alg| alg.as_str() == name)
    }

    pub fn jwt(self) -> Algorithm {
        match self {
            TokenAlgorithm::Hs256 => Algorithm::HS256,
            TokenAlgorithm::Es256 => Algorithm::ES256,
            TokenAlgorithm::Rs256 => Algorithm::RS256,
        }
    }

    fn asymmetric(self) -> Option<KeyAlgorithm> {
        match self {
            TokenAlgorithm::Hs256 => None,
            TokenAlgorithm::Es256 => Some(KeyAlgorithm::Es256),
            TokenAlgorithm::Rs256 => Some(KeyAlgorithm::Rs256),
        }
    }
}

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
    algorithm: TokenAlgorithm,
    /// The HMAC secret, or the key pair's PKCS#8.
    secret: SecretSlice<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public key, for an asymmetric algorithm.
    jwk: Option<Value>,
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
    /// A fresh valid key for `slot`. An RSA key takes a fraction of a second to generate: call
    /// it off the async threads.
    pub fn generate(
        slot: KeySlot,
        now_ms: i64,
        algorithm: TokenAlgorithm,
    ) -> Result<Self, KeyError> {
        let kid = Uuid::new_v4().simple().to_string();
        let secret = match algorithm.asymmetric() {
            None => random_bytes(SIGNING_KEY_LEN)?,
            Some(pair) => KeyPair::generate(pair)
                .map_err(|e| KeyError::Random(e.to_string()))?
                .pkcs8()
                .to_vec(),
        };
        Self::new(kid, slot, SigningKeyState::Valid, now_ms, algorithm, secret)
    }

    pub(crate) fn new(
        kid: String,
        slot: KeySlot,
        state: SigningKeyState,
        created_at_ms: i64,
        algorithm: TokenAlgorithm,
        secret: Vec<u8>,
    ) -> Result<Self, KeyError> {
        let unusable = |e: &dyn std::fmt::Display| {
            KeyError::Incomplete(format!("signing key {kid} cannot be used: {e}"))
        };
        let (encoding, decoding, jwk) = match algorithm.asymmetric() {
            None => (
                EncodingKey::from_secret(&secret),
                DecodingKey::from_secret(&secret),
                None,
            ),
            Some(pair_algorithm) => {
                let pair = KeyPair::from_pkcs8(kid.clone(), pair_algorithm, secret.clone())
                    .map_err(|e| unusable(&e))?;
                let (encoding, decoding) = match pair_algorithm {
                    KeyAlgorithm::Es256 => (
                        EncodingKey::from_ec_der(&secret),
                        DecodingKey::from_ec_components(pair.jwk_member("x"), pair.jwk_member("y"))
                            .map_err(|e| unusable(&e))?,
                    ),
                    KeyAlgorithm::Rs256 => (
                        EncodingKey::from_rsa_der(&secret),
                        DecodingKey::from_rsa_components(
                            pair.jwk_member("n"),
                            pair.jwk_member("e"),
                        )
                        .map_err(|e| unusable(&e))?,
                    ),
                };
                (encoding, decoding, Some(pair.jwk().clone()))
            }
        };
        Ok(SigningKey {
            encoding,
            decoding,
            jwk,
            kid,
            slot,
            state,
            created_at_ms,
            algorithm,
            secret: secret.into(),
        })
    }

    pub fn algorithm(&self) -> TokenAlgorithm {
        self.algorithm
    }

    /// The public key as a JWK, for an asymmetric algorithm.
    pub fn jwk(&self) -> Option<&Value> {
        self.jwk.as_ref()
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
