//! `GET /v1/users`: backends find app users by username prefix, OpenID Connect subject, an
//! identity they hold and a creation time range, in pages (`maxPageSize`, and a `nextLink` while
//! more remain), in id order.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging::{invalid, next_link, page_size, parse_time, take_page};
use super::schemas::{BackendRefusals, BadRequest, IdentityNotFound, Unavailable};
use super::views::rfc3339;
use super::{ApiError, AppState};
use crate::clock::from_millis;
use crate::store::{AppUserFilter, AppUserRecord};
use crate::users::Username;
use crate::vocabulary::AppUserId;

/// The longest username prefix and OpenID Connect subject searched by.
const MAX_PREFIX_CHARS: usize = 64;
const MAX_SUBJECT_CHARS: usize = 256;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Built-in accounts whose username starts with this (compared as usernames are:
    /// NFKC-normalised, lower case).
    #[param(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    username_prefix: Option<String>,
    /// Users of the app's identity provider with this subject.
    #[param(max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    oidc_subject: Option<String>,
    /// Users holding this identity (a raw id, `8:acs:…`).
    #[param(
        pattern = r"^8:acs:[A-Za-z0-9-]{1,64}_[0-9a-f]{8}-[0-9a-f]{4}-(?:[0-79a-f][0-9a-f]{3}-[0-9a-f]{4}|8[0-9a-f]{3}-[0-7c-f][0-9a-f]{3})-[0-9a-f]{12}$"
    )]
    identity: Option<String>,
    /// Users created at or after this time (RFC 3339).
    #[param(format = DateTime)]
    created_from: Option<String>,
    /// Users created before this time (RFC 3339).
    #[param(format = DateTime)]
    created_to: Option<String>,
    /// 1 to 1000; 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    max_page_size: Option<u32>,
    /// From a previous page's `nextLink`.
    #[param(format = "uuid")]
    continuation_token: Option<String>,
}

/// An app user, without its identities (`GET /v1/users/{userId}` has them).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppUserSummary {
    #[schema(format = "uuid")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    oidc_issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    oidc_subject: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    disabled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppUserPage {
    value: Vec<AppUserSummary>,
    /// The next page, while more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    next_link: Option<String>,
}

impl UserQuery {
    fn filter(&self, state: &AppState) -> Result<(AppUserFilter, u32), ApiError> {
        let page = page_size(self.max_page_size)?;
        let too_long = |value: &Option<String>, max: usize| {
            value.as_deref().is_some_and(|v| v.chars().count() > max)
        };
        if too_long(&self.username_prefix, MAX_PREFIX_CHARS) {
            return Err(invalid(format!(
                "'usernamePrefix' may have at most {MAX_PREFIX_CHARS} characters."
            )));
        }
        if too_long(&self.oidc_subject, MAX_SUBJECT_CHARS) {
            return Err(invalid(format!(
                "'oidcSubject' may have at most {MAX_SUBJECT_CHARS} characters."
            )));
        }
        // No username or subject holds one, and PostgreSQL's text cannot hold a NUL.
        for (name, value) in [
            ("usernamePrefix", &self.username_prefix),
            ("oidcSubject", &self.oidc_subject),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().any(char::is_control))
            {
                return Err(invalid(format!(
                    "'{name}' may not hold control characters."
                )));
            }
        }
        let time = |name: &str, raw: &Option<String>| {
            raw.as_deref().map(|raw| parse_time(name, raw)).transpose()
        };
        let filter = AppUserFilter {
            username_prefix: self.username_prefix.as_deref().map(Username::normalise),
            oidc_subject: self.oidc_subject.clone(),
            identity: self
                .identity
                .as_deref()
                .map(|raw| state.parse_id(raw))
                .transpose()?,
            created_from_ms: time("createdFrom", &self.created_from)?,
            created_to_ms: time("createdTo", &self.created_to)?,
            after: self
                .continuation_token
                .as_deref()
                .map(|raw| {
                    AppUserId::parse(raw).ok_or_else(|| {
                        invalid("'continuationToken' is not one this service gave.".into())
                    })
                })
                .transpose()?,
        };
        Ok((filter, page))
    }

    /// This query's link for the page after `last`.
    fn next_link(&self, last: AppUserId) -> String {
        let params = [
            ("usernamePrefix", self.username_prefix.as_deref()),
            ("oidcSubject", self.oidc_subject.as_deref()),
            ("identity", self.identity.as_deref()),
            ("createdFrom", self.created_from.as_deref()),
            ("createdTo", self.created_to.as_deref()),
        ];
        next_link("/v1/users", &params, self.max_page_size, &last.to_string())
    }
}

/// List and search app users
///
/// In id order, in pages; every condition given must hold.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "app users",
    operation_id = "listAppUsers",
    params(UserQuery),
    responses(
        (status = OK, description = "A page of app users.", body = AppUserPage),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, response = IdentityNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Json<AppUserPage>, ApiError> {
    let Query(query) = query.map_err(|rejection| invalid(format!("{}.", rejection.body_text())))?;
    let (filter, page) = query.filter(&state)?;
    // One more than a page tells whether another page follows.
    let fetched = state.services.users.find(&filter, page + 1).await?;
    let (users, more) = take_page(fetched, page);
    let next_link = users
        .last()
        .filter(|_| more)
        .map(|user| query.next_link(user.id));
    Ok(Json(AppUserPage {
        value: users.into_iter().map(summary).collect(),
        next_link,
    }))
}

fn summary(record: AppUserRecord) -> AppUserSummary {
    AppUserSummary {
        id: record.id.to_string(),
        username: record.username,
        oidc_issuer: record.oidc_issuer,
        oidc_subject: record.oidc_subject,
        created_at: from_millis(record.created_at_ms)
            .map(rfc3339)
            .unwrap_or_default(),
        disabled_at: record.disabled_at_ms.and_then(from_millis).map(rfc3339),
    }
}
