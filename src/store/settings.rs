//! Deployment-wide settings fixed at first start (e.g. the resource id in every identity id).
//! Both backends run the same SQL.

use async_trait::async_trait;
use sqlx::{Database, Executor};

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;

#[async_trait]
pub trait SettingStore: Send + Sync {
    /// Returns the stored value of a setting, storing `proposed` first if there is none.
    async fn setting_or_init(&self, name: &str, proposed: &str) -> Result<String, StoreError>;
}

async fn setting_or_init<'c, DB, E>(
    pool: E,
    name: &str,
    proposed: &str,
) -> Result<String, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB> + Copy,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as Database>::Arguments: sqlx::IntoArguments<DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(proposed)
        .execute(pool)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await?,
    )
}

#[async_trait]
impl SettingStore for PgStore {
    async fn setting_or_init(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        setting_or_init(self.pool(), name, proposed).await
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn setting_or_init(&self, name: &str, proposed: &str) -> Result<String, StoreError> {
        setting_or_init(self.pool(), name, proposed).await
    }
}
