//! Master-key rotation for what the transmitter seals: the SET-signing keys and the receivers'
//! authorization headers, re-sealed under the current master key (opened with it or the one it
//! replaces), each set at once and only if nothing changed meanwhile.

use super::SignalError;
use super::key_ring::aad as key_aad;
use super::records::authorization_aad;
use crate::keys::{KeyAlgorithm, MasterKeys};
use crate::store::Store;

/// Re-seals everything the transmitter stores; how many secrets.
pub async fn reseal_all(
    store: &dyn Store,
    master: &MasterKeys,
    now_ms: i64,
) -> Result<usize, SignalError> {
    let sealing = |e: crate::keys::MasterKeyError| SignalError::Internal(e.to_string());
    // A secret changed by another instance between reading and writing: read again.
    for _ in 0..5 {
        let mut keys = Vec::new();
        for record in store.live_event_keys(now_ms).await? {
            let algorithm = KeyAlgorithm::parse(&record.algorithm).ok_or_else(|| {
                SignalError::Internal(format!("unknown algorithm '{}'", record.algorithm))
            })?;
            let aad = key_aad(&record.kid, algorithm);
            let plain = master.open(&record.sealed, &aad).map_err(sealing)?;
            keys.push((
                record.kid,
                record.sealed,
                master.seal(&plain, &aad).map_err(sealing)?,
            ));
        }
        let mut headers = Vec::new();
        for (id, sealed) in store.sealed_authorizations().await? {
            let aad = authorization_aad(&id);
            let plain = master.open(&sealed, &aad).map_err(sealing)?;
            headers.push((id, sealed, master.seal(&plain, &aad).map_err(sealing)?));
        }
        if store.reseal_event_keys(&keys).await? && store.reseal_authorizations(&headers).await? {
            return Ok(keys.len() + headers.len());
        }
    }
    Err(SignalError::Internal(
        "the transmitter's secrets kept changing while being re-sealed; try again".into(),
    ))
}
