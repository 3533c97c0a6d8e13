//! `POST /v1/password-resets`: a user sets a new password with the one-time token a backend
//! issued it (`:issuePasswordReset`). Public, like sign-in, and limited per client address.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::JsonBody;
use super::schemas::{BadRequest, BodyRefusals, TooManyRequests, Unavailable};
use super::{ApiError, AppState};
use crate::users::{Password, ResetToken};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
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
