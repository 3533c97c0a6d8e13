//! HS256/384/512 with RustCrypto's `hmac` and `sha2`; verification in constant time.

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use sha2::{Sha256, Sha384, Sha512};

use super::invalid_key;

enum HmacKey {
    S256(Hmac<Sha256>),
    S384(Hmac<Sha384>),
    S512(Hmac<Sha512>),
}

pub(super) struct HmacJwt {
    alg: Algorithm,
    key: HmacKey,
}

impl HmacJwt {
    pub(super) fn new(alg: Algorithm, family: AlgorithmFamily, secret: &[u8]) -> Result<Self> {
        if family != AlgorithmFamily::Hmac {
            return Err(invalid_key());
        }
        let key = match alg {
            Algorithm::HS256 => HmacKey::S256(keyed(secret)?),
            Algorithm::HS384 => HmacKey::S384(keyed(secret)?),
            Algorithm::HS512 => HmacKey::S512(keyed(secret)?),
            _ => return Err(new_error(ErrorKind::InvalidAlgorithm)),
        };
        Ok(Self { alg, key })
    }
}

fn keyed<M: KeyInit>(secret: &[u8]) -> Result<M> {
    M::new_from_slice(secret).map_err(|_| invalid_key())
}

fn fed<M: Mac + Clone>(mac: &M, msg: &[u8]) -> M {
    let mut mac = mac.clone();
    mac.update(msg);
    mac
}

impl Signer<Vec<u8>> for HmacJwt {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(match &self.key {
            HmacKey::S256(m) => fed(m, msg).finalize().into_bytes().to_vec(),
            HmacKey::S384(m) => fed(m, msg).finalize().into_bytes().to_vec(),
            HmacKey::S512(m) => fed(m, msg).finalize().into_bytes().to_vec(),
        })
    }
}

impl Verifier<Vec<u8>> for HmacJwt {
    /// Constant-time comparison (`verify_slice`).
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        match &self.key {
            HmacKey::S256(m) => fed(m, msg).verify_slice(sig),
            HmacKey::S384(m) => fed(m, msg).verify_slice(sig),
            HmacKey::S512(m) => fed(m, msg).verify_slice(sig),
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for HmacJwt {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl JwtVerifier for HmacJwt {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}
