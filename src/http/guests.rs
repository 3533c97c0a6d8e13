//! `POST /v1/guests`: a fresh identity with a short-lived guest token, for anyone, when guests
//! are on; rate-limited per client address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::client_address::ClientAddress;
use super::identities::rfc3339;
use super::{ApiError, AppState};

/// Holds a token: no `Debug`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestView {
    token: String,
    expires_on: String,
    communication_user_id: String,
}

pub async fn admit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
) -> Result<(StatusCode, Json<GuestView>), ApiError> {
    let created = state.guests.admit(client).await?;
    let token = created.token.ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(GuestView {
            token: token.token,
            expires_on: rfc3339(token.expires_on),
            communication_user_id: state.raw_id(created.identity.id),
        }),
    ))
}
