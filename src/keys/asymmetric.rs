//! Asymmetric key pairs (RS256 or ES256), for what is verified by others with no secret: access
//! tokens under `CALLSIGN_TOKEN_ALGORITHM`, and security event tokens. Each is kept as PKCS#8
//! and published as a JWK.
//!
//! Signing is ring's, both algorithms. ring generates P-256 keys but not RSA keys: those come
//! from the `rsa` crate, used for generation only (the key is handed to ring as PKCS#8).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::{Value, json};

/// Bits in a generated RSA key.
const RSA_BITS: usize = 2048;

/// An asymmetric JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum KeyAlgorithm {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [KeyAlgorithm::Rs256, KeyAlgorithm::Es256]
            .into_iter()
            .find(|alg| alg.as_str() == name)
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    #[error("generating an {0} key failed: {1}")]
    Generate(KeyAlgorithm, String),
    #[error("a stored {0} event-signing key could not be read: {1}")]
    Corrupt(KeyAlgorithm, String),
    #[error("signing failed")]
    Sign,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// A key pair: its id, algorithm, PKCS#8 (secret) and public JWK. No `Debug` beyond its id.
pub struct KeyPair {
    kid: String,
    algorithm: KeyAlgorithm,
    pkcs8: SecretSlice<u8>,
    signer: Signer,
    jwk: Value,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key. RSA generation takes a fraction of a second: call it off the async
    /// threads.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyPairError> {
        let pkcs8 = match algorithm {
            KeyAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| KeyPairError::Generate(algorithm, "ring refused".into()))?
            .as_ref()
            .to_vec(),
            KeyAlgorithm::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
                    .map_err(|e| KeyPairError::Generate(algorithm, e.to_string()))?;
                key.to_pkcs8_der()
                    .map_err(|e| KeyPairError::Generate(algorithm, e.to_string()))?
                    .as_bytes()
                    .to_vec()
            }
        };
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Self::from_pkcs8(kid, algorithm, pkcs8)
    }

    /// A stored key.
    pub fn from_pkcs8(
        kid: String,
        algorithm: KeyAlgorithm,
        pkcs8: Vec<u8>,
    ) -> Result<Self, KeyPairError> {
        let corrupt = |e: ring::error::KeyRejected| KeyPairError::Corrupt(algorithm, e.to_string());
        let (signer, jwk) = match algorithm {
            KeyAlgorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(corrupt)?;
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                let jwk = json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&public.n),
                    "e": URL_SAFE_NO_PAD.encode(&public.e),
                });
                (Signer::Rsa(pair), jwk)
            }
            KeyAlgorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(corrupt)?;
                // An uncompressed point: 0x04, then x and y of 32 bytes each.
                let point = pair.public_key().as_ref();
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(32.min(point.len()));
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                });
                (Signer::Ecdsa(pair), jwk)
            }
        };
        let mut jwk = jwk;
        if let Some(fields) = jwk.as_object_mut() {
            fields.insert("kid".into(), json!(kid));
            fields.insert("use".into(), json!("sig"));
            fields.insert("alg".into(), json!(algorithm.as_str()));
        }
        Ok(KeyPair {
            kid,
            algorithm,
            pkcs8: pkcs8.into(),
            signer,
            jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public key as a JWK (`kid`, `use: sig`, `alg`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    pub(crate) fn pkcs8(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }

    /// The JWK's base64url member `name` (`n`, `e`; `x`, `y`).
    pub fn jwk_member(&self, name: &str) -> &str {
        self.jwk
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A compact JWS of `claims` with header `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, KeyPairError> {
        let header = json!({
            "alg": self.algorithm.as_str(),
            "typ": typ,
            "kid": self.kid,
        });
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let input = format!("{}.{}", encode(&header), encode(claims));
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| KeyPairError::Sign)?;
                signature
            }
            Signer::Ecdsa(pair) => pair
                .sign(&rng, input.as_bytes())
                .map_err(|_| KeyPairError::Sign)?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verifies a compact JWS with ring from the JWK alone, as a receiver would.
    fn verify(token: &str, jwk: &Value) -> bool {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        match jwk["kty"].as_str().unwrap() {
            "RSA" => signature::RsaPublicKeyComponents {
                n: field("n"),
                e: field("e"),
            }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &signature,
            )
            .is_ok(),
            _ => {
                let mut point = vec![4];
                point.extend(field("x"));
                point.extend(field("y"));
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input.as_bytes(), &signature)
                    .is_ok()
            }
        }
    }

    #[test]
    fn each_algorithm_signs_what_its_published_key_verifies() {
        for algorithm in [KeyAlgorithm::Es256, KeyAlgorithm::Rs256] {
            let key = KeyPair::generate(algorithm).unwrap();
            let token = key
                .sign("secevent+jwt", &json!({"iss": "https://x/", "jti": "1"}))
                .unwrap();
            assert!(verify(&token, key.jwk()), "{algorithm}");
            let header: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["typ"], "secevent+jwt");
            assert_eq!(header["alg"], algorithm.as_str());
            assert_eq!(header["kid"], key.kid());
            // Altered claims no longer verify.
            let mut parts: Vec<&str> = token.split('.').collect();
            let altered = URL_SAFE_NO_PAD.encode(r#"{"iss":"https://y/","jti":"1"}"#);
            parts[1] = &altered;
            assert!(!verify(&parts.join("."), key.jwk()));
            // The stored form loads back to the same public key.
            let again =
                KeyPair::from_pkcs8(key.kid().into(), algorithm, key.pkcs8().to_vec()).unwrap();
            assert_eq!(again.jwk(), key.jwk());
            assert!(key.jwk().get("d").is_none(), "no private part is published");
        }
    }
}
