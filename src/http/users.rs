//! Backend routes over app users (access key): read, erase, and the identity mapping: a new
//! identity for a user (1:N), linking an existing identity (N:1, N:M), unlinking, and which
//! users hold an identity.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::extract::AcsPath;
use super::{ApiError, AppState, ErrorCode};
use crate::clock::from_millis;
use crate::ids::{AppUserId, IdentityId};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUserView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc_issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc_subject: Option<String>,
    created_at: String,
    /// Raw identity ids, the default (oldest) first.
    identities: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedView {
    communication_user_id: String,
}

#[derive(Debug, Serialize)]
pub struct UsersView {
    users: Vec<String>,
}

fn parse_user(raw: &str) -> Result<AppUserId, ApiError> {
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

/// `GET /v1/users/{userId}`
pub async fn get(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<Json<AppUserView>, ApiError> {
    let user = state.users.get(parse_user(&user)?).await?;
    Ok(Json(AppUserView {
        id: user.record.id.hyphenated().to_string(),
        username: user.record.username,
        oidc_issuer: user.record.oidc_issuer,
        oidc_subject: user.record.oidc_subject,
        created_at: from_millis(user.record.created_at_ms)
            .map(super::identities::rfc3339)
            .unwrap_or_default(),
        identities: state.identity_list(&user.identities),
    }))
}

/// `DELETE /v1/users/{userId}`: erasure.
pub async fn erase(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(&user)?;
    state.users.erase(user).await?;
    tracing::info!(%user, "app user erased");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/users/{userId}/identities`: one more identity for the user.
pub async fn create_identity(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<(StatusCode, Json<LinkedView>), ApiError> {
    let id = state.users.create_identity(parse_user(&user)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkedView {
            communication_user_id: state.raw_id(id),
        }),
    ))
}

/// `POST /v1/users/{userId}/identities/{id}`: 201 linked, 200 already linked.
pub async fn link(
    State(state): State<AppState>,
    AcsPath((user, identity)): AcsPath<(String, String)>,
) -> Result<(StatusCode, Json<LinkedView>), ApiError> {
    let user = parse_user(&user)?;
    let identity = state.parse_id(&identity)?;
    let status = if state.users.link(user, identity).await? {
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

/// `DELETE /v1/users/{userId}/identities/{id}`: the link goes; the identity stays.
pub async fn unlink(
    State(state): State<AppState>,
    AcsPath((user, identity)): AcsPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(&user)?;
    let identity = state.parse_id(&identity)?;
    state.users.unlink(user, identity).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/identities/{id}/users`
pub async fn users_of(
    State(state): State<AppState>,
    AcsPath(identity): AcsPath<String>,
) -> Result<Json<UsersView>, ApiError> {
    let identity = state.parse_id(&identity)?;
    let users = state.users.users_of(identity).await?;
    Ok(Json(UsersView {
        users: users.iter().map(ToString::to_string).collect(),
    }))
}
