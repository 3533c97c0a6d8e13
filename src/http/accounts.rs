//! `POST /v1/accounts`: creates a built-in account. Backends (access key) may always; anyone
//! may when registration is open.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client_address::ClientAddress;
use super::error::ErrorBody;
use super::extract::JsonBody;
use super::schemas::{BackendRefusals, BadRequest, BodyRefusals, Unavailable};
use super::{ApiError, AppState};
use crate::users::{Password, Username};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountBody {
    /// 1 to 64 letters, digits or `. _ - @ +`, not mixing Latin letters with another script;
    /// NFKC-normalised and lower-cased; not looking like a taken name.
    #[schema(example = "alice")]
    username: String,
    /// 8 to 256 characters, and within the password policy: at least the configured minimum
    /// length (`CALLSIGN_PASSWORD_MIN_LENGTH`, default 8), not the username, not a common
    /// password nor close to one.
    #[schema(min_length = 8, max_length = 256, format = Password)]
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// The app user id (a hyphenated UUID).
    #[schema(format = "uuid")]
    id: String,
    /// As stored: NFKC-normalised, lower case.
    username: String,
}

/// Create a built-in account
///
/// Backends create accounts with an access key (or a backend bearer token). With
/// `CALLSIGN_ACCOUNTS_REGISTRATION=open` anyone may, throttled per client address.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "sessions",
    operation_id = "createAccount",
    request_body = CreateAccountBody,
    responses(
        (status = CREATED, description = "The account and its app user.", body = AccountView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = CONFLICT, description = "`UsernameTaken`: the name (after normalisation), or one that only looks like it (the same UTS #39 skeleton), has an account.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    // No credential only when registration is open.
    security(("hmac" = []), ("bearer" = []), ()),
)]
pub async fn create(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(body): JsonBody<CreateAccountBody>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let id = if state.services.users.policy().open_registration {
        state
            .services
            .accounts
            .register(&username, &password, client)
            .await?
    } else {
        state.services.accounts.create(&username, &password).await?
    };
    tracing::info!(user = %id, "account created");
    Ok((
        StatusCode::CREATED,
        Json(AccountView {
            id: id.to_string(),
            username: username.as_str().to_owned(),
        }),
    ))
}
