//! Backend routes that act on an app user without erasing it (access key or admin bearer):
//! disable it, enable it again, end all its sessions.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ErrorBody;
use super::extract::AcsPath;
use super::schemas::{BackendRefusals, BadRequest, Unavailable};
use super::users::{UserIdParam, parse_user};
use super::{ApiError, AppState};

/// `POST /v1/users/{userId}/{action}`: `:disable` or `:enable`. (axum cannot route a literal
/// segment that starts with `:`, so the action is matched here.)
pub async fn action(
    State(state): State<AppState>,
    AcsPath((user, action)): AcsPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    match action.as_str() {
        ":disable" => disable(&state, &user).await,
        ":enable" => enable(&state, &user).await,
        _ => Err(super::not_found_error()),
    }
}

/// Disable an app user
///
/// The user can no longer sign in (**403** `UserDisabled`, told only to whoever gives its
/// password) or be issued tokens; every session ends and the tokens of the identities only it
/// holds are revoked at once, on every instance. Its account, identities and mapping stay.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/:disable",
    tag = "app users",
    operation_id = "disableAppUser",
    params(UserIdParam),
    responses(
        (status = NO_CONTENT, description = "Disabled (or already disabled)."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn disable(state: &AppState, user: &str) -> Result<StatusCode, ApiError> {
    state.services.sessions.disable(parse_user(user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable an app user
///
/// The user may sign in and be issued tokens again. What disabling ended (sessions, tokens)
/// stays ended.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/:enable",
    tag = "app users",
    operation_id = "enableAppUser",
    params(UserIdParam),
    responses(
        (status = NO_CONTENT, description = "Enabled (or already enabled)."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn enable(state: &AppState, user: &str) -> Result<StatusCode, ApiError> {
    state.services.sessions.enable(parse_user(user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End an app user's sessions
///
/// Every session of the user ends (its refresh tokens stop working) and the tokens of the
/// identities only it holds are revoked, as when it signs out everywhere. The user stays
/// enabled and may sign in again.
#[utoipa::path(
    delete,
    path = "/v1/users/{userId}/sessions",
    tag = "app users",
    operation_id = "endAppUserSessions",
    params(UserIdParam),
    responses(
        (status = NO_CONTENT, description = "Every session ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn end_sessions(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<StatusCode, ApiError> {
    state.services.sessions.end_all(parse_user(&user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
