//! `lastTokenIssuedAt`, written in batches off the issuing path. PostgreSQL updates a batch in
//! one statement (`UNNEST`); SQLite updates row by row in one transaction.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::IdentityId;

#[async_trait]
pub trait IssueLogStore: Send + Sync {
    /// Records when identities last got a token; a time never moves back.
    async fn record_tokens_issued(&self, issued: &[(IdentityId, i64)]) -> Result<(), StoreError>;
}

#[async_trait]
impl IssueLogStore for PgStore {
    async fn record_tokens_issued(&self, issued: &[(IdentityId, i64)]) -> Result<(), StoreError> {
        let (ids, times): (Vec<Uuid>, Vec<i64>) =
            issued.iter().map(|&(id, at)| (id.uuid(), at)).unzip();
        sqlx::query(
            "UPDATE identities AS i SET last_token_issued_at_ms = \
               GREATEST(COALESCE(i.last_token_issued_at_ms, 0), u.at) \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, at) WHERE i.id = u.id",
        )
        .bind(ids)
        .bind(times)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[async_trait]
impl IssueLogStore for SqliteStore {
    async fn record_tokens_issued(&self, issued: &[(IdentityId, i64)]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (id, at_ms) in issued {
            sqlx::query(
                "UPDATE identities SET last_token_issued_at_ms = \
                 MAX(COALESCE(last_token_issued_at_ms, 0), $2) WHERE id = $1",
            )
            .bind(id.uuid().hyphenated())
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
