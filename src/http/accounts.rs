//! `POST /v1/accounts`: creates a built-in account. Backends (access key) may always; anyone
//! may when registration is open.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::client_address::ClientAddress;
use super::extract::JsonBody;
use super::{ApiError, AppState};
use crate::users::{Password, Username};

#[derive(Deserialize)]
pub struct CreateAccountBody {
    username: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    id: String,
    /// As stored: NFKC-normalised, lower case.
    username: String,
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(body): JsonBody<CreateAccountBody>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let id = if state.users.policy().open_registration {
        state
            .accounts
            .register(&username, &password, client)
            .await?
    } else {
        state.accounts.create(&username, &password).await?
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
