//! A user's sessions as the user (or a backend) sees them: each live refresh-token family with
//! when it started and was last refreshed, and where it started; and ending one of them. Both
//! backends run the same SQL and code, stamped out by `impl_user_sessions!`.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::{AppUserId, FamilyId};

/// One live session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: FamilyId,
    pub created_at_ms: i64,
    pub last_refreshed_at_ms: Option<i64>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

#[async_trait]
pub trait UserSessionStore: Send + Sync {
    /// The user's sessions that have not ended: not revoked, started after `created_after_ms`,
    /// used (started or refreshed) after `active_after_ms`; newest first.
    async fn sessions_of(
        &self,
        user: AppUserId,
        created_after_ms: i64,
        active_after_ms: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    /// Ends one of the user's sessions; `false` if it is not the user's or has ended already.
    async fn end_session(
        &self,
        user: AppUserId,
        session: FamilyId,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

const SELECT: &str = "SELECT id, created_at_ms, last_refreshed_at_ms, client_address, user_agent \
     FROM refresh_families \
     WHERE user_id = $1 AND revoked_at_ms IS NULL AND created_at_ms > $2 \
       AND COALESCE(last_refreshed_at_ms, created_at_ms) > $3 \
     ORDER BY created_at_ms DESC, id";
const END: &str = "UPDATE refresh_families SET revoked_at_ms = $3 \
     WHERE id = $1 AND user_id = $2 AND revoked_at_ms IS NULL";

macro_rules! impl_user_sessions {
    ($store:ident) => {
        #[async_trait]
        impl UserSessionStore for $store {
            async fn sessions_of(
                &self,
                user: AppUserId,
                created_after_ms: i64,
                active_after_ms: i64,
            ) -> Result<Vec<SessionRecord>, StoreError> {
                sqlx::query(SELECT)
                    .bind($store::uuid_param(user))
                    .bind(created_after_ms)
                    .bind(active_after_ms)
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(SessionRecord {
                            id: $store::uuid_col(row, "id")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            last_refreshed_at_ms: row.try_get("last_refreshed_at_ms")?,
                            client_address: row.try_get("client_address")?,
                            user_agent: row.try_get("user_agent")?,
                        })
                    })
                    .collect()
            }

            async fn end_session(
                &self,
                user: AppUserId,
                session: FamilyId,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(END)
                    .bind($store::uuid_param(session))
                    .bind($store::uuid_param(user))
                    .bind(now_ms)
                    .execute(self.writer())
                    .await?
                    .rows_affected()
                    == 1)
            }
        }
    };
}

impl_user_sessions!(PgStore);
impl_user_sessions!(SqliteStore);
