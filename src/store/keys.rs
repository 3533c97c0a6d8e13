//! The key ring as stored: access keys (one active per slot) and signing keys with states, all
//! sealed with the master key. A signing key is *valid* (one per slot: it signs), *retained*
//! (rotated out: still verifies until `retained_until_ms`) or *revoked* (its tokens are dead).
//! Both backends run the same SQL and code, stamped out by `impl_key_store!`; PostgreSQL
//! serialises key changes with an advisory lock and announces them, SQLite's write lock
//! serialises them already.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::Change;
use crate::vocabulary::KeySlot;

/// An access key, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub kid: String,
    /// `primary` or `secondary`.
    pub slot: KeySlot,
    pub sealed: Vec<u8>,
    pub created_at_ms: i64,
}

/// A token-signing key, sealed. Only valid and retained keys are ever read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub slot: KeySlot,
    /// `HS256`, `ES256` or `RS256`.
    pub algorithm: String,
    pub sealed: Vec<u8>,
    pub created_at_ms: i64,
    /// `None` while valid; when rotated out, the instant it stops verifying.
    pub retained_until_ms: Option<i64>,
}

/// A stored key's sealed bytes, before and after re-sealing under another master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub kid: String,
    /// A signing key (else an access key).
    pub signing: bool,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The active access key of each slot.
    async fn active_access_keys(&self) -> Result<Vec<AccessKeyRecord>, StoreError>;
    /// Signing keys that still verify at `now_ms`: valid ones and retained ones not yet past.
    async fn live_signing_keys(&self, now_ms: i64) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Stores the first keys of an empty ring; `false` if another instance got there first.
    async fn insert_initial_keys(
        &self,
        access: &[AccessKeyRecord],
        signing: &[SigningKeyRecord],
    ) -> Result<bool, StoreError>;
    /// Regeneration: retires the slot's access key, revokes all its signing keys, and makes the
    /// given pair the slot's keys, atomically.
    async fn replace_access_key(
        &self,
        access: &AccessKeyRecord,
        signing: &SigningKeyRecord,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Rotation: the slot's valid signing key is retained until `retain_until_ms` and `signing`
    /// becomes the valid one, atomically.
    async fn rotate_signing_key(
        &self,
        signing: &SigningKeyRecord,
        retain_until_ms: i64,
    ) -> Result<(), StoreError>;
    /// Master-key rotation: replaces each key's sealed bytes, atomically, provided none changed
    /// since they were read; `false` (and nothing written) otherwise.
    async fn reseal_keys(&self, keys: &[Resealed]) -> Result<bool, StoreError>;
    /// Records a request signature (its digest) as used until `expires_at_ms`; `false` if it
    /// was recorded already, by any instance. Records past their expiry are forgotten first.
    async fn use_signature(
        &self,
        digest: &[u8],
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError>;
}

const FORGET_USED_SIGNATURES: &str = "DELETE FROM used_signatures WHERE expires_at_ms <= $1";
const USE_SIGNATURE: &str = "INSERT INTO used_signatures (digest, expires_at_ms) VALUES ($1, $2) \
     ON CONFLICT DO NOTHING";

const SELECT_ACCESS: &str = "SELECT kid, slot, access_key_sealed AS sealed, created_at_ms \
     FROM access_keys WHERE revoked_at_ms IS NULL ORDER BY slot";
const SELECT_SIGNING: &str = "SELECT kid, slot, algorithm, key_sealed AS sealed, created_at_ms, \
     retained_until_ms \
     FROM signing_keys WHERE revoked_at_ms IS NULL \
       AND (retained_until_ms IS NULL OR retained_until_ms > $1) \
     ORDER BY slot, created_at_ms";
const INSERT_ACCESS: &str =
    "INSERT INTO access_keys (kid, slot, access_key_sealed, created_at_ms) VALUES ($1, $2, $3, $4)";
const INSERT_ACCESS_IF_FREE: &str = "INSERT INTO access_keys (kid, slot, access_key_sealed, created_at_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const INSERT_SIGNING: &str = "INSERT INTO signing_keys (kid, slot, key_sealed, created_at_ms, \
     algorithm) VALUES ($1, $2, $3, $4, $5)";
const RETIRE_ACCESS: &str =
    "UPDATE access_keys SET revoked_at_ms = $2 WHERE slot = $1 AND revoked_at_ms IS NULL";
const REVOKE_SIGNING: &str =
    "UPDATE signing_keys SET revoked_at_ms = $2 WHERE slot = $1 AND revoked_at_ms IS NULL";
const RESEAL_ACCESS: &str =
    "UPDATE access_keys SET access_key_sealed = $3 WHERE kid = $1 AND access_key_sealed = $2";
const RESEAL_SIGNING: &str =
    "UPDATE signing_keys SET key_sealed = $3 WHERE kid = $1 AND key_sealed = $2";
const RETAIN_VALID_SIGNING: &str = "UPDATE signing_keys SET retained_until_ms = $2 \
     WHERE slot = $1 AND retained_until_ms IS NULL AND revoked_at_ms IS NULL";

/// Binds an [`AccessKeyRecord`] or [`SigningKeyRecord`] in `INSERT_*` column order.
macro_rules! bind_key {
    ($sql:expr, $key:expr) => {
        sqlx::query($sql)
            .bind(&$key.kid)
            .bind($key.slot.as_str())
            .bind(&$key.sealed)
            .bind($key.created_at_ms)
    };
}

/// A stored slot name, as [`KeySlot::as_str`] wrote it.
fn slot_col<R: Row>(row: &R) -> Result<KeySlot, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let name: String = row.try_get("slot")?;
    KeySlot::parse(&name).ok_or_else(|| StoreError::Corrupt(format!("unknown key slot '{name}'")))
}

macro_rules! impl_key_store {
    ($store:ident) => {
        #[async_trait]
        impl KeyStore for $store {
            async fn active_access_keys(&self) -> Result<Vec<AccessKeyRecord>, StoreError> {
                let rows = sqlx::query(SELECT_ACCESS).fetch_all(self.pool()).await?;
                rows.iter()
                    .map(|row| {
                        Ok(AccessKeyRecord {
                            kid: row.try_get("kid")?,
                            slot: slot_col(row)?,
                            sealed: row.try_get("sealed")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                        })
                    })
                    .collect()
            }

            async fn live_signing_keys(
                &self,
                now_ms: i64,
            ) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let rows = sqlx::query(SELECT_SIGNING)
                    .bind(now_ms)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(SigningKeyRecord {
                            kid: row.try_get("kid")?,
                            slot: slot_col(row)?,
                            algorithm: row.try_get("algorithm")?,
                            sealed: row.try_get("sealed")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            retained_until_ms: row.try_get("retained_until_ms")?,
                        })
                    })
                    .collect()
            }

            async fn insert_initial_keys(
                &self,
                access: &[AccessKeyRecord],
                signing: &[SigningKeyRecord],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                for key in access {
                    let inserted = bind_key!(INSERT_ACCESS_IF_FREE, key)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if inserted == 0 {
                        // Another instance stored its keys first.
                        tx.rollback().await?;
                        return Ok(false);
                    }
                }
                for key in signing {
                    bind_key!(INSERT_SIGNING, key)
                        .bind(&key.algorithm)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn replace_access_key(
                &self,
                access: &AccessKeyRecord,
                signing: &SigningKeyRecord,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_keys(&mut tx).await?;
                for sql in [RETIRE_ACCESS, REVOKE_SIGNING] {
                    sqlx::query(sql)
                        .bind(access.slot.as_str())
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                bind_key!(INSERT_ACCESS, access).execute(&mut *tx).await?;
                bind_key!(INSERT_SIGNING, signing)
                    .bind(&signing.algorithm)
                    .execute(&mut *tx)
                    .await?;
                $store::enqueue(&mut tx, Change::KeysChanged).await?;
                let regenerated = Change::AccessKeyRegenerated {
                    slot: access.slot,
                    at_ms: now_ms,
                };
                $store::enqueue(&mut tx, regenerated).await?;
                tx.commit().await?;
                self.committed();
                Ok(())
            }

            async fn rotate_signing_key(
                &self,
                signing: &SigningKeyRecord,
                retain_until_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_keys(&mut tx).await?;
                sqlx::query(RETAIN_VALID_SIGNING)
                    .bind(signing.slot.as_str())
                    .bind(retain_until_ms)
                    .execute(&mut *tx)
                    .await?;
                bind_key!(INSERT_SIGNING, signing)
                    .bind(&signing.algorithm)
                    .execute(&mut *tx)
                    .await?;
                $store::enqueue(&mut tx, Change::KeysChanged).await?;
                tx.commit().await?;
                self.committed();
                Ok(())
            }

            async fn reseal_keys(&self, keys: &[Resealed]) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_keys(&mut tx).await?;
                for key in keys {
                    let sql = if key.signing {
                        RESEAL_SIGNING
                    } else {
                        RESEAL_ACCESS
                    };
                    let updated = sqlx::query(sql)
                        .bind(&key.kid)
                        .bind(&key.old)
                        .bind(&key.new)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if updated != 1 {
                        return Ok(false);
                    }
                }
                $store::enqueue(&mut tx, Change::KeysChanged).await?;
                tx.commit().await?;
                self.committed();
                Ok(true)
            }

            async fn use_signature(
                &self,
                digest: &[u8],
                now_ms: i64,
                expires_at_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(FORGET_USED_SIGNATURES)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                let inserted = sqlx::query(USE_SIGNATURE)
                    .bind(digest)
                    .bind(expires_at_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(inserted == 1)
            }
        }
    };
}

impl_key_store!(PgStore);
impl_key_store!(SqliteStore);
