//! Verification of third-party tokens with `ring`: RS*/PS* (2048–8192 bits), ES256/ES384
//! (fixed-size signatures), EdDSA over Ed25519. A key of the wrong family is refused.

use jsonwebtoken::crypto::JwtVerifier;
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use ring::signature as rs;

use super::hmac_jwt::HmacJwt;
use super::invalid_key;

enum Scheme {
    Rsa(&'static rs::RsaParameters),
    Other(&'static dyn rs::VerificationAlgorithm),
}

/// ring's verification scheme for an asymmetric `alg`, and the key family it needs.
fn scheme(alg: Algorithm) -> Option<(AlgorithmFamily, Scheme)> {
    use {AlgorithmFamily as F, Scheme::*};
    Some(match alg {
        Algorithm::RS256 => (F::Rsa, Rsa(&rs::RSA_PKCS1_2048_8192_SHA256)),
        Algorithm::RS384 => (F::Rsa, Rsa(&rs::RSA_PKCS1_2048_8192_SHA384)),
        Algorithm::RS512 => (F::Rsa, Rsa(&rs::RSA_PKCS1_2048_8192_SHA512)),
        Algorithm::PS256 => (F::Rsa, Rsa(&rs::RSA_PSS_2048_8192_SHA256)),
        Algorithm::PS384 => (F::Rsa, Rsa(&rs::RSA_PSS_2048_8192_SHA384)),
        Algorithm::PS512 => (F::Rsa, Rsa(&rs::RSA_PSS_2048_8192_SHA512)),
        Algorithm::ES256 => (F::Ec, Other(&rs::ECDSA_P256_SHA256_FIXED)),
        Algorithm::ES384 => (F::Ec, Other(&rs::ECDSA_P384_SHA384_FIXED)),
        Algorithm::EdDSA => (F::Ed, Other(&rs::ED25519)),
        _ => return None,
    })
}

struct RingVerifier {
    alg: Algorithm,
    scheme: Scheme,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        match (&self.scheme, self.key.kind()) {
            // From a JWK or `from_rsa_components`: raw big-endian n and e.
            (Scheme::Rsa(params), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                rs::RsaPublicKeyComponents { n, e }.verify(params, msg, sig)
            }
            // PKCS#1 RSAPublicKey DER, or an uncompressed SEC1 point (EC), or 32 bytes (Ed25519).
            (Scheme::Rsa(params), DecodingKeyKind::SecretOrDer(der)) => {
                rs::UnparsedPublicKey::new(*params, der).verify(msg, sig)
            }
            (Scheme::Other(alg), DecodingKeyKind::SecretOrDer(der)) => {
                rs::UnparsedPublicKey::new(*alg, der).verify(msg, sig)
            }
            (Scheme::Other(_), DecodingKeyKind::RsaModulusExponent { .. }) => {
                Err(ring::error::Unspecified)
            }
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

pub(super) fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let alg = *alg;
    if alg.family() == AlgorithmFamily::Hmac {
        return Ok(Box::new(HmacJwt::new(
            alg,
            key.family(),
            key.try_get_as_bytes()?,
        )?));
    }
    let (family, scheme) = scheme(alg).ok_or_else(|| new_error(ErrorKind::UnsupportedAlgorithm))?;
    // Refuse a key of another family (e.g. an RSA key under an `ES256` header).
    if family != key.family() {
        return Err(invalid_key());
    }
    Ok(Box::new(RingVerifier {
        alg,
        scheme,
        key: key.clone(),
    }))
}
