//! Backend routes over app users (access key): read, erase, and the identity mapping: a new
//! identity for a user (1:N), linking an existing identity (N:1, N:M), unlinking, and which
//! users hold an identity.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::extract::AcsPath;
use super::identities::{AcsIdentityIdParam, IdentityIdParam};
use super::schemas::{BackendRefusals, BadRequest, Unavailable};
use super::{ApiError, AppState, ErrorCode};
use crate::clock::from_millis;
use crate::vocabulary::{AppUserId, IdentityId};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppUserView {
    #[schema(format = "uuid")]
    id: String,
    /// A built-in account's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    username: Option<String>,
    /// A bearer user's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    oidc_issuer: Option<String>,
    /// A bearer user's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    oidc_subject: Option<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    created_at: String,
    /// When the user was disabled (RFC 3339); absent while it is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    disabled_at: Option<String>,
    /// Raw identity ids, the default (oldest) first.
    identities: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedView {
    /// The raw identity id.
    communication_user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersView {
    /// App user ids.
    users: Vec<String>,
}

/// The `{userId}` path parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "documentation only")]
pub(super) struct UserIdParam {
    /// The app user id, a hyphenated UUID.
    #[param(rename = "userId", format = "uuid")]
    user_id: String,
}

pub(super) fn parse_user(raw: &str) -> Result<AppUserId, ApiError> {
    AppUserId::parse(raw).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidUserId,
            format!(
                "'{}' is not an app user id (a hyphenated UUID).",
                crate::text::echo(raw, 80)
            ),
        )
    })
}

impl AppState {
    fn identity_list(&self, ids: &[IdentityId]) -> Vec<String> {
        ids.iter().map(|id| self.raw_id(*id)).collect()
    }
}

/// Get an app user
#[utoipa::path(
    get,
    path = "/v1/users/{userId}",
    tag = "app users",
    operation_id = "getAppUser",
    params(UserIdParam),
    responses(
        (status = OK, description = "The app user and its identities.", body = AppUserView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<Json<AppUserView>, ApiError> {
    let user = state.services.users.get(parse_user(&user)?).await?;
    Ok(Json(AppUserView {
        id: user.record.id.to_string(),
        username: user.record.username,
        oidc_issuer: user.record.oidc_issuer,
        oidc_subject: user.record.oidc_subject,
        created_at: from_millis(user.record.created_at_ms)
            .map(super::views::rfc3339)
            .unwrap_or_default(),
        disabled_at: user
            .record
            .disabled_at_ms
            .and_then(from_millis)
            .map(super::views::rfc3339),
        identities: state.identity_list(&user.identities),
    }))
}

/// Erase an app user
///
/// Deletes, in one transaction, every identity only this user holds (their tokens die), its
/// mapping, sessions and account. An identity shared with other users stays theirs.
#[utoipa::path(
    delete,
    path = "/v1/users/{userId}",
    tag = "app users",
    operation_id = "eraseAppUser",
    params(UserIdParam),
    responses(
        (status = NO_CONTENT, description = "Erased."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn erase(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(&user)?;
    state.services.users.erase(user).await?;
    tracing::info!(%user, "app user erased");
    Ok(StatusCode::NO_CONTENT)
}

/// Create another identity for an app user
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/identities",
    tag = "app users",
    operation_id = "createAppUserIdentity",
    params(UserIdParam),
    responses(
        (status = CREATED, description = "A new identity, held by the user.", body = LinkedView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn create_identity(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<(StatusCode, Json<LinkedView>), ApiError> {
    let id = state
        .services
        .users
        .create_identity(parse_user(&user)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkedView {
            communication_user_id: state.raw_id(id),
        }),
    ))
}

/// Link an identity to an app user
///
/// An identity may be held by several users.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/identities/{id}",
    tag = "app users",
    operation_id = "linkAppUserIdentity",
    params(UserIdParam, AcsIdentityIdParam),
    responses(
        (status = CREATED, description = "Linked.", body = LinkedView),
        (status = OK, description = "Already linked.", body = LinkedView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound` or `IdentityNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn link(
    State(state): State<AppState>,
    AcsPath((user, identity)): AcsPath<(String, String)>,
) -> Result<(StatusCode, Json<LinkedView>), ApiError> {
    let user = parse_user(&user)?;
    let identity = state.parse_id(&identity)?;
    let status = if state.services.users.link(user, identity).await? {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(LinkedView {
            communication_user_id: state.raw_id(identity),
        }),
    ))
}

/// Unlink an identity from an app user
#[utoipa::path(
    delete,
    path = "/v1/users/{userId}/identities/{id}",
    tag = "app users",
    operation_id = "unlinkAppUserIdentity",
    params(UserIdParam, AcsIdentityIdParam),
    responses(
        (status = NO_CONTENT, description = "Unlinked; the identity itself stays."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`IdentityNotLinked`: the identity is not one of the user's.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn unlink(
    State(state): State<AppState>,
    AcsPath((user, identity)): AcsPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(&user)?;
    let identity = state.parse_id(&identity)?;
    state.services.users.unlink(user, identity).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the app users holding an identity
#[utoipa::path(
    get,
    path = "/v1/identities/{id}/users",
    tag = "app users",
    operation_id = "listIdentityAppUsers",
    params(IdentityIdParam),
    responses(
        (status = OK, description = "The app users holding the identity.", body = UsersView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`IdentityNotFound`: the id is of another resource.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn users_of(
    State(state): State<AppState>,
    AcsPath(identity): AcsPath<String>,
) -> Result<Json<UsersView>, ApiError> {
    let identity = state.parse_id(&identity)?;
    let users = state.services.users.users_of(identity).await?;
    Ok(Json(UsersView {
        users: users.iter().map(ToString::to_string).collect(),
    }))
}
