//! Backend routes that act on an app user without erasing it (access key or admin bearer):
//! disable it, enable it again, end all its sessions, set its password, or issue a one-time
//! password-reset token for the app to deliver.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::extract::{AcsPath, JsonBody};
use super::my_sessions::{SessionList, parse_session, session_list};
use super::schemas::{BackendRefusals, BadRequest, BodyRefusals, Unavailable};
use super::users::{UserIdParam, parse_user};
use super::views::rfc3339;
use super::{ApiError, AppState};
use crate::users::Password;

/// The body of `:setPassword`; the other actions take none.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserActionBody {
    /// `:setPassword`: the new password, within the password policy.
    #[schema(nullable = false, min_length = 8, max_length = 256)]
    password: Option<String>,
}

/// `{"resetToken","expiresOn"}`. Holds a credential: no `Debug`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetTokenView {
    /// `csp_…`: good once, until `expiresOn`. Deliver it to the user; Callsign sends no mail.
    reset_token: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    expires_on: String,
}

/// `POST /v1/users/{userId}/{action}`: `:disable`, `:enable`, `:setPassword` or
/// `:issuePasswordReset`. (axum cannot route a literal segment that starts with `:`, so the
/// action is matched here.)
pub async fn action(
    State(state): State<AppState>,
    AcsPath((user, action)): AcsPath<(String, String)>,
    JsonBody(body): JsonBody<UserActionBody>,
) -> Result<Response, ApiError> {
    match action.as_str() {
        ":disable" => disable(&state, &user)
            .await
            .map(IntoResponse::into_response),
        ":enable" => enable(&state, &user).await.map(IntoResponse::into_response),
        ":setPassword" => set_password(&state, &user, body)
            .await
            .map(IntoResponse::into_response),
        ":issuePasswordReset" => issue_password_reset(&state, &user)
            .await
            .map(IntoResponse::into_response),
        _ => Err(super::not_found_error()),
    }
}

/// Set an app user's password
///
/// For a built-in account: the new password, within the password policy, replaces the old one;
/// every session of the user ends and the tokens of the identities only it holds are revoked.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/:setPassword",
    tag = "app users",
    operation_id = "setAppUserPassword",
    params(UserIdParam),
    request_body = UserActionBody,
    responses(
        (status = NO_CONTENT, description = "Set; every session ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn set_password(
    state: &AppState,
    user: &str,
    body: UserActionBody,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(user)?;
    let password = body.password.ok_or_else(|| {
        ApiError::bad_request(
            super::ErrorCode::InvalidPassword,
            "':setPassword' needs 'password'.",
        )
    })?;
    let password = Password::parse(password)?;
    state
        .services
        .credentials
        .set_password(user, &password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issue a password-reset token
///
/// For a built-in account: a one-time token (stored only as its SHA-256) that sets a new
/// password through `POST /v1/password-resets` once, until it expires
/// (`CALLSIGN_PASSWORD_RESET_MINUTES`, default 60). The app delivers it to the user by its own
/// channel.
#[utoipa::path(
    post,
    path = "/v1/users/{userId}/:issuePasswordReset",
    tag = "app users",
    operation_id = "issuePasswordReset",
    params(UserIdParam),
    responses(
        (status = CREATED, description = "The token, shown once.", body = ResetTokenView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn issue_password_reset(
    state: &AppState,
    user: &str,
) -> Result<(StatusCode, Json<ResetTokenView>), ApiError> {
    let (token, expires) = state
        .services
        .credentials
        .issue_reset_token(parse_user(user)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetTokenView {
            reset_token: token.into_string(),
            expires_on: rfc3339(expires),
        }),
    ))
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

/// List an app user's sessions
///
/// Its live sessions, newest first, each with when it started and was last refreshed and where
/// it signed in from.
#[utoipa::path(
    get,
    path = "/v1/users/{userId}/sessions",
    tag = "app users",
    operation_id = "listAppUserSessions",
    params(UserIdParam),
    responses(
        (status = OK, description = "The user's live sessions.", body = SessionList),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`UserNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    AcsPath(user): AcsPath<String>,
) -> Result<Json<SessionList>, ApiError> {
    let user = parse_user(&user)?;
    state.services.users.stored(user).await?;
    let sessions = state.services.sessions.of_user(user).await?;
    Ok(Json(session_list(sessions, None)))
}

/// End one of an app user's sessions
///
/// Its refresh token stops working; the user's other sessions go on.
#[utoipa::path(
    delete,
    path = "/v1/users/{userId}/sessions/{sessionId}",
    tag = "app users",
    operation_id = "endAppUserSession",
    params(UserIdParam, ("sessionId" = String, Path, format = "uuid", description = "The session id.")),
    responses(
        (status = NO_CONTENT, description = "Ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`SessionNotFound`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn end_session(
    State(state): State<AppState>,
    AcsPath((user, session)): AcsPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user(&user)?;
    state
        .services
        .sessions
        .end_one(user, parse_session(&session)?)
        .await?;
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
