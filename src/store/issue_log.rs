//! `lastTokenIssuedAt`, written in batches off the issuing path. PostgreSQL updates a batch in
//! one statement (`UNNEST`), SQLite too (`json_each`).

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::IdentityId;

/// What an identity was issued since the last write: when its last token was issued, and when
/// the last of them expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    pub at_ms: i64,
    pub expires_ms: i64,
}

#[async_trait]
pub trait IssueLogStore: Send + Sync {
    /// Records when identities last got a token (and, for a guest, until when its tokens
    /// live); neither ever moves back.
    async fn record_tokens_issued(&self, issued: &[(IdentityId, Issued)])
    -> Result<(), StoreError>;
}

#[async_trait]
impl IssueLogStore for PgStore {
    async fn record_tokens_issued(
        &self,
        issued: &[(IdentityId, Issued)],
    ) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = issued.iter().map(|(id, _)| id.uuid()).collect();
        let times: Vec<i64> = issued.iter().map(|(_, issued)| issued.at_ms).collect();
        let expiries: Vec<i64> = issued.iter().map(|(_, issued)| issued.expires_ms).collect();
        sqlx::query(
            "UPDATE identities AS i SET last_token_issued_at_ms = \
               GREATEST(COALESCE(i.last_token_issued_at_ms, 0), u.at), \
               guest_until_ms = CASE WHEN i.guest_until_ms IS NULL THEN NULL \
                 ELSE GREATEST(i.guest_until_ms, u.expires) END \
             FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[]) AS u(id, at, expires) \
             WHERE i.id = u.id",
        )
        .bind(ids)
        .bind(times)
        .bind(expiries)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[async_trait]
impl IssueLogStore for SqliteStore {
    async fn record_tokens_issued(
        &self,
        issued: &[(IdentityId, Issued)],
    ) -> Result<(), StoreError> {
        // One statement for the batch, its rows as a JSON array of `[id, at, expires]`: a
        // flush after tokens spread over ten thousand identities is one write, not ten
        // thousand. A NULL `guest_until_ms` (not a guest) stays NULL: MAX of NULL is NULL.
        let rows: Vec<(String, i64, i64)> = issued
            .iter()
            .map(|(id, issued)| {
                (
                    id.uuid().hyphenated().to_string(),
                    issued.at_ms,
                    issued.expires_ms,
                )
            })
            .collect();
        sqlx::query(
            "UPDATE identities SET last_token_issued_at_ms = \
               MAX(COALESCE(identities.last_token_issued_at_ms, 0), u.at), \
               guest_until_ms = MAX(identities.guest_until_ms, u.expires) \
             FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS at, \
                     json_extract(value, '$[2]') AS expires FROM json_each($1)) AS u \
             WHERE identities.id = u.id",
        )
        .bind(serde_json::json!(rows).to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
