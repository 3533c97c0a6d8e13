//! Finding app users: by username prefix, OpenID Connect subject, an identity they hold and a
//! creation time range, in pages ordered by id (keyset: each page starts after the last id of
//! the one before). Both backends run the same SQL and code, stamped out by
//! `impl_user_search!`.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreError;
use super::app_users::AppUserRecord;
use super::backend::SqlBackend;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use crate::vocabulary::{AppUserId, IdentityId};

/// Which app users to list: all given conditions hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppUserFilter {
    /// Usernames starting with this (as stored: normalised, lower case).
    pub username_prefix: Option<String>,
    /// Users of the app's identity provider with this subject.
    pub oidc_subject: Option<String>,
    /// Users holding this identity.
    pub identity: Option<IdentityId>,
    /// Inclusive lower bound.
    pub created_from_ms: Option<i64>,
    /// Exclusive upper bound.
    pub created_to_ms: Option<i64>,
    /// Keyset paging: only users whose id comes after this one.
    pub after: Option<AppUserId>,
}

#[async_trait]
pub trait AppUserSearch: Send + Sync {
    /// Up to `limit` app users matching `filter`, in id order.
    async fn find_app_users(
        &self,
        filter: &AppUserFilter,
        limit: u32,
    ) -> Result<Vec<AppUserRecord>, StoreError>;
}

/// `LIKE … ESCAPE '\'`, so a prefix's own `%` and `_` match themselves.
const SEARCH: &str = "SELECT id, username, oidc_issuer, oidc_subject, created_at_ms, \
       disabled_at_ms FROM app_users \
     WHERE ($1 IS NULL OR username LIKE $1 ESCAPE '\\') \
       AND ($2 IS NULL OR oidc_subject = $2) \
       AND ($3 IS NULL OR id IN (SELECT user_id FROM app_user_identities WHERE identity_id = $3)) \
       AND ($4 IS NULL OR created_at_ms >= $4) AND ($5 IS NULL OR created_at_ms < $5) \
       AND ($6 IS NULL OR id > $6) \
     ORDER BY id LIMIT $7";

/// A `LIKE` pattern for names starting with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

macro_rules! impl_user_search {
    ($store:ident) => {
        #[async_trait]
        impl AppUserSearch for $store {
            async fn find_app_users(
                &self,
                filter: &AppUserFilter,
                limit: u32,
            ) -> Result<Vec<AppUserRecord>, StoreError> {
                sqlx::query(SEARCH)
                    .bind(filter.username_prefix.as_deref().map(like_prefix))
                    .bind(filter.oidc_subject.as_deref())
                    .bind(filter.identity.map($store::uuid_param))
                    .bind(filter.created_from_ms)
                    .bind(filter.created_to_ms)
                    .bind(filter.after.map($store::uuid_param))
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(AppUserRecord {
                            id: $store::uuid_col(row, "id")?,
                            username: row.try_get("username")?,
                            oidc_issuer: row.try_get("oidc_issuer")?,
                            oidc_subject: row.try_get("oidc_subject")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            disabled_at_ms: row.try_get("disabled_at_ms")?,
                        })
                    })
                    .collect()
            }
        }
    };
}

impl_user_search!(PgStore);
impl_user_search!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn a_prefix_matches_its_own_wildcards_literally() {
        assert_eq!(like_prefix("al"), "al%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
