//! A `jsonwebtoken` [`CryptoProvider`] without the `rust_crypto`/`aws_lc_rs` backends:
//! HMAC (HS256/384/512) with RustCrypto's `hmac` + `sha2`, everything asymmetric with `ring`
//! (RS*/PS* 2048-8192 bits, ES256/ES384 fixed-size signatures, EdDSA over Ed25519).
//!
//! Install it once, before anything touches `jsonwebtoken::{encode, decode}`: [`install`].

use std::sync::OnceLock;

mod hmac_jwt;
mod key_utils;
mod sign;
#[cfg(test)]
mod tests;
mod verify;

use jsonwebtoken::crypto::{CryptoProvider, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, new_error};

use key_utils::{
    compute_digest, ec_components_from_private_key, ed_component_from_private_key,
    rsa_components_from_private_key, rsa_components_from_public_key,
};
use sign::new_signer;
use verify::new_verifier;

/// The provider; make it the process default with [`install`].
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_component_from_private_key,
        compute_digest,
    },
};

/// Another provider became the process default first: installed elsewhere, or jsonwebtoken's
/// panicking placeholder, latched by an `encode`/`decode`/`crypto::*` call that ran before
/// [`install`].
#[derive(Debug)]
pub struct OtherProviderInstalled;

/// Makes [`PROVIDER`] the process default. Idempotent and thread-safe; call it at the top of
/// `main` and of every test that reaches jsonwebtoken. (`install_default`'s `Err` carries the
/// *rejected* argument, not the active provider, hence the bookkeeping here.)
pub fn install() -> std::result::Result<(), OtherProviderInstalled> {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    match INSTALLED.get_or_init(|| PROVIDER.install_default().is_ok()) {
        true => Ok(()),
        false => Err(OtherProviderInstalled),
    }
}

fn invalid_key() -> jsonwebtoken::errors::Error {
    new_error(ErrorKind::InvalidKeyFormat)
}
