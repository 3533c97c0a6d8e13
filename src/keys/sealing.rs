//! Sealing the key ring for the store: each access and signing key encrypted under the master
//! key, bound to its key id, slot and purpose as associated data; and re-sealing every stored
//! key under a new master key.

use super::{
    AccessKey, KeyError, MasterKeys, RingState, SigningKey, SigningKeyState, TokenAlgorithm,
};
use crate::store::{AccessKeyRecord, KeyStore, Resealed, SigningKeyRecord};

fn aad(kid: &str, slot: &str, purpose: &str) -> Vec<u8> {
    format!("callsign:{kid}:{slot}:{purpose}").into_bytes()
}

pub(super) fn seal_access(
    master: &MasterKeys,
    key: &AccessKey,
) -> Result<AccessKeyRecord, KeyError> {
    Ok(AccessKeyRecord {
        kid: key.kid().to_owned(),
        slot: key.slot(),
        sealed: master.seal(key.secret(), &aad(key.kid(), key.slot().as_str(), "access"))?,
        created_at_ms: key.created_at_ms(),
    })
}

pub(super) fn seal_signing(
    master: &MasterKeys,
    key: &SigningKey,
) -> Result<SigningKeyRecord, KeyError> {
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        slot: key.slot(),
        algorithm: key.algorithm().as_str().to_owned(),
        sealed: master.seal(
            key.secret(),
            &aad(key.kid(), key.slot().as_str(), "signing"),
        )?,
        created_at_ms: key.created_at_ms(),
        retained_until_ms: None,
    })
}

pub(super) fn unseal_access(
    master: &MasterKeys,
    record: &AccessKeyRecord,
) -> Result<AccessKey, KeyError> {
    let secret = master.open(
        &record.sealed,
        &aad(&record.kid, record.slot.as_str(), "access"),
    )?;
    AccessKey::stored(
        record.kid.clone(),
        record.slot,
        secret,
        record.created_at_ms,
    )
}

pub(super) fn unseal_signing(
    master: &MasterKeys,
    record: &SigningKeyRecord,
) -> Result<SigningKey, KeyError> {
    let secret = master.open(
        &record.sealed,
        &aad(&record.kid, record.slot.as_str(), "signing"),
    )?;
    let state = match record.retained_until_ms {
        None => SigningKeyState::Valid,
        Some(until_ms) => SigningKeyState::Retained { until_ms },
    };
    let algorithm = TokenAlgorithm::parse(&record.algorithm).ok_or_else(|| {
        KeyError::Incomplete(format!(
            "signing key {} has an unknown algorithm '{}'",
            record.kid, record.algorithm
        ))
    })?;
    SigningKey::new(
        record.kid.clone(),
        record.slot,
        state,
        record.created_at_ms,
        algorithm,
        secret,
    )
}

pub(super) async fn load_state(
    store: &dyn KeyStore,
    master: &MasterKeys,
    now_ms: i64,
) -> Result<RingState, KeyError> {
    let access = store
        .active_access_keys()
        .await?
        .iter()
        .map(|record| unseal_access(master, record))
        .collect::<Result<Vec<_>, _>>()?;
    let signing = store
        .live_signing_keys(now_ms)
        .await?
        .iter()
        .map(|record| unseal_signing(master, record))
        .collect::<Result<Vec<_>, _>>()?;
    RingState::new(access, signing)
}

/// Re-seals every key the ring reads under `master`'s current key (opening each with either of
/// its keys). Returns how many keys, or `None` if a key changed meanwhile (nothing written).
pub(super) async fn reseal_all(
    store: &dyn KeyStore,
    master: &MasterKeys,
    now_ms: i64,
) -> Result<Option<usize>, KeyError> {
    let mut resealed = Vec::new();
    for record in store.active_access_keys().await? {
        let aad = aad(&record.kid, record.slot.as_str(), "access");
        let secret = master.open(&record.sealed, &aad)?;
        resealed.push(Resealed {
            new: master.seal(&secret, &aad)?,
            kid: record.kid,
            signing: false,
            old: record.sealed,
        });
    }
    for record in store.live_signing_keys(now_ms).await? {
        let aad = aad(&record.kid, record.slot.as_str(), "signing");
        let secret = master.open(&record.sealed, &aad)?;
        resealed.push(Resealed {
            new: master.seal(&secret, &aad)?,
            kid: record.kid,
            signing: true,
            old: record.sealed,
        });
    }
    Ok(store
        .reseal_keys(&resealed)
        .await?
        .then_some(resealed.len()))
}
