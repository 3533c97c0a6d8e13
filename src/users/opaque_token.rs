//! The opaque bearer secrets Callsign hands to clients (refresh tokens `csr_…`, password-reset
//! tokens `csp_…`): a marking prefix and 256 random bits, stored only as their SHA-256, and
//! refused without a lookup when not shaped like one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::AppUserError;
use crate::keys::random_bytes;

/// 256 random bits.
const RANDOM_BYTES: usize = 32;
/// The longest value a client may present.
const MAX_LEN: usize = 128;

/// A new token: `prefix` and 256 random bits, base64url.
pub(super) fn generate(prefix: &str) -> Result<String, AppUserError> {
    let random = random_bytes(RANDOM_BYTES).map_err(|e| AppUserError::Hashing(e.to_string()))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random)))
}

/// Whether a presented value is shaped like a token of `prefix`.
pub(super) fn well_formed(raw: &str, prefix: &str) -> bool {
    raw.len() <= MAX_LEN && raw.starts_with(prefix)
}

/// What is stored of a token.
pub(super) fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
