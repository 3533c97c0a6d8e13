//! Signing: HMAC for Callsign's own tokens; `ring` for the asymmetric algorithms (test
//! identity providers sign with them).

use jsonwebtoken::crypto::JwtSigner;
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as rs;

use super::hmac_jwt::HmacJwt;
use super::invalid_key;

enum RingSigner {
    Rsa(rs::RsaKeyPair, &'static dyn rs::RsaEncoding),
    Ecdsa(rs::EcdsaKeyPair),
    Ed25519(rs::Ed25519KeyPair),
}

struct AsymmetricSigner {
    alg: Algorithm,
    key: RingSigner,
}

/// `EncodingKey::from_rsa_der`/`from_rsa_pem` hold PKCS#1; accept PKCS#8 as well.
pub(super) fn rsa_key_pair(der: &[u8]) -> Result<rs::RsaKeyPair> {
    rs::RsaKeyPair::from_der(der)
        .or_else(|_| rs::RsaKeyPair::from_pkcs8(der))
        .map_err(|e| new_error(ErrorKind::InvalidRsaKey(e.to_string())))
}

/// `EncodingKey::from_ec_der`/`from_ec_pem` hold PKCS#8.
pub(super) fn ecdsa_key_pair(alg: Algorithm, pkcs8: &[u8]) -> Result<rs::EcdsaKeyPair> {
    let signing = match alg {
        Algorithm::ES256 => &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &rs::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return Err(new_error(ErrorKind::InvalidAlgorithm)),
    };
    rs::EcdsaKeyPair::from_pkcs8(signing, pkcs8, &SystemRandom::new())
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))
}

/// PKCS#8 v1 (no public key, e.g. OpenSSL) or v2 (ring, rcgen).
pub(super) fn ed25519_key_pair(pkcs8: &[u8]) -> Result<rs::Ed25519KeyPair> {
    rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))
}

impl Signer<Vec<u8>> for AsymmetricSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            RingSigner::Rsa(pair, padding) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(*padding, &rng, msg, &mut sig).map(|()| sig)
            }
            RingSigner::Ecdsa(pair) => pair.sign(&rng, msg).map(|s| s.as_ref().to_vec()),
            RingSigner::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for AsymmetricSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

pub(super) fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let alg = *alg;
    let der = key.as_bytes();
    let family = key.family();
    if family != alg.family() {
        return Err(invalid_key());
    }
    let signer = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Ok(Box::new(HmacJwt::new(alg, family, der)?));
        }
        Algorithm::RS256 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA256),
        Algorithm::RS384 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA384),
        Algorithm::RS512 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PKCS1_SHA512),
        Algorithm::PS256 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA256),
        Algorithm::PS384 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA384),
        Algorithm::PS512 => RingSigner::Rsa(rsa_key_pair(der)?, &rs::RSA_PSS_SHA512),
        Algorithm::ES256 | Algorithm::ES384 => RingSigner::Ecdsa(ecdsa_key_pair(alg, der)?),
        Algorithm::EdDSA => RingSigner::Ed25519(ed25519_key_pair(der)?),
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(Box::new(AsymmetricSigner { alg, key: signer }))
}
