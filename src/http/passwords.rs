//! A built-in account's user changing its password: with a live session and the current
//! password (`POST /v1/sessions/change-password`), or with the one-time token a backend issued it
//! (`POST /v1/password-resets`). Public, like sign-in, and limited per client address.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::client_address::ClientAddress;
use super::extract::JsonBody;
use super::schemas::{BadRequest, BodyRefusals, InvalidRefreshToken, TooManyRequests, Unavailable};
use super::{ApiError, AppState};
use crate::users::{Password, RefreshToken, ResetToken};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeemBody {
    /// The `csp_…` token the app delivered.
    reset_token: String,
    /// The new password, within the password policy.
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

/// Reset a password
///
/// Sets a new password with a password-reset token, spending it: every session of the user
/// ends and the tokens of the identities only it holds are revoked. A password the policy
/// refuses (**400** `InvalidPassword`) leaves the token unspent.
#[utoipa::path(
    post,
    path = "/v1/password-resets",
    tag = "sessions",
    operation_id = "resetPassword",
    request_body = RedeemBody,
    responses(
        (status = NO_CONTENT, description = "The new password is set; every session ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn redeem(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RedeemBody>,
) -> Result<StatusCode, ApiError> {
    let token = ResetToken::presented(body.reset_token)?;
    let password = Password::parse(body.new_password)?;
    state.services.credentials.redeem(&token, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeBody {
    /// The session's refresh token: the session that changes the password goes on.
    refresh_token: String,
    /// The password now.
    #[schema(min_length = 8, max_length = 256)]
    current_password: String,
    /// The new password, within the password policy.
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

/// Change the password
///
/// A signed-in user of a built-in account changes its password with its current one. Every
/// other session of the user ends (their refresh tokens stop working; access tokens already
/// issued live out their lifetime); this session goes on. Wrong current passwords are throttled
/// like failed sign-ins.
#[utoipa::path(
    post,
    path = "/v1/sessions/change-password",
    tag = "sessions",
    operation_id = "changePassword",
    request_body = ChangeBody,
    responses(
        (status = NO_CONTENT, description = "Changed; every other session ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn change(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(body): JsonBody<ChangeBody>,
) -> Result<StatusCode, ApiError> {
    let session = RefreshToken::presented(body.refresh_token)?;
    let current = Password::parse(body.current_password)?;
    let new = Password::parse(body.new_password)?;
    state
        .services
        .credentials
        .change(&session, &current, &new, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
