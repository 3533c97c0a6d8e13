//! The keys that sign security event tokens, sealed with the master key. One is *valid* (it
//! signs); a rotated-out key is *retained* until `retained_until_ms` (it stays in the JWKS, so a
//! SET it signed still verifies). Both backends run the same SQL, stamped out by
//! `impl_event_key_store!`; changes serialise on the key-ring lock.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

/// An event-signing key, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKeyRecord {
    pub kid: String,
    /// `RS256` or `ES256`.
    pub algorithm: String,
    pub sealed: Vec<u8>,
    pub created_at_ms: i64,
    /// `None` while valid.
    pub retained_until_ms: Option<i64>,
}

#[async_trait]
pub trait EventKeyStore: Send + Sync {
    /// The valid key and the retained ones not yet past `now_ms`, valid first.
    async fn live_event_keys(&self, now_ms: i64) -> Result<Vec<EventKeyRecord>, StoreError>;
    /// Makes `key` the valid key, retaining the one it replaces until `retain_until_ms`. With
    /// `unless_algorithm`, nothing is written (`false`) if the valid key already has that
    /// algorithm: of instances racing to create the first key, one wins.
    async fn install_event_key(
        &self,
        key: &EventKeyRecord,
        retain_until_ms: i64,
        unless_algorithm: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Re-sealing under a new master key: replaces each key's sealed bytes provided none
    /// changed since read; `false` (nothing written) otherwise.
    async fn reseal_event_keys(
        &self,
        keys: &[(String, Vec<u8>, Vec<u8>)],
    ) -> Result<bool, StoreError>;
}

const SELECT_LIVE: &str = "SELECT kid, algorithm, key_sealed, created_at_ms, retained_until_ms \
     FROM event_signing_keys WHERE retained_until_ms IS NULL OR retained_until_ms > $1 \
     ORDER BY retained_until_ms IS NOT NULL, created_at_ms DESC";
const VALID_ALGORITHM: &str =
    "SELECT algorithm FROM event_signing_keys WHERE retained_until_ms IS NULL";
const RETAIN_VALID: &str =
    "UPDATE event_signing_keys SET retained_until_ms = $1 WHERE retained_until_ms IS NULL";
const INSERT: &str = "INSERT INTO event_signing_keys (kid, algorithm, key_sealed, created_at_ms) \
     VALUES ($1, $2, $3, $4)";
const FORGET_EXPIRED: &str = "DELETE FROM event_signing_keys WHERE retained_until_ms <= $1";
const RESEAL: &str =
    "UPDATE event_signing_keys SET key_sealed = $3 WHERE kid = $1 AND key_sealed = $2";

macro_rules! impl_event_key_store {
    ($store:ident) => {
        #[async_trait]
        impl EventKeyStore for $store {
            async fn live_event_keys(
                &self,
                now_ms: i64,
            ) -> Result<Vec<EventKeyRecord>, StoreError> {
                let rows = sqlx::query(SELECT_LIVE)
                    .bind(now_ms)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(EventKeyRecord {
                            kid: row.try_get("kid")?,
                            algorithm: row.try_get("algorithm")?,
                            sealed: row.try_get("key_sealed")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            retained_until_ms: row.try_get("retained_until_ms")?,
                        })
                    })
                    .collect()
            }

            async fn install_event_key(
                &self,
                key: &EventKeyRecord,
                retain_until_ms: i64,
                unless_algorithm: Option<&str>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_keys(&mut tx).await?;
                if let Some(algorithm) = unless_algorithm {
                    let valid: Option<String> = sqlx::query_scalar(VALID_ALGORITHM)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if valid.as_deref() == Some(algorithm) {
                        return Ok(false);
                    }
                }
                sqlx::query(FORGET_EXPIRED)
                    .bind(key.created_at_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(RETAIN_VALID)
                    .bind(retain_until_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(INSERT)
                    .bind(&key.kid)
                    .bind(&key.algorithm)
                    .bind(&key.sealed)
                    .bind(key.created_at_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn reseal_event_keys(
                &self,
                keys: &[(String, Vec<u8>, Vec<u8>)],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                $store::lock_keys(&mut tx).await?;
                for (kid, old, new) in keys {
                    let updated = sqlx::query(RESEAL)
                        .bind(kid)
                        .bind(old)
                        .bind(new)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if updated != 1 {
                        return Ok(false);
                    }
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

impl_event_key_store!(PgStore);
impl_event_key_store!(SqliteStore);
