//! `POST /v1/guests`: a fresh identity with a short-lived guest token, for anyone, when guests
//! are on; rate-limited per client address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::client_address::ClientAddress;
use super::error::ErrorBody;
use super::schemas::{TooManyRequests, Unavailable};
use super::views::TokenView;
use super::{ApiError, AppState};

/// Admit a guest
///
/// A fresh identity held by no app user, with a `CALLSIGN_GUEST_TOKEN_MINUTES` token of
/// `CALLSIGN_GUEST_SCOPES`; at most `CALLSIGN_GUESTS_PER_MINUTE` per client address. No body.
#[utoipa::path(
    post,
    path = "/v1/guests",
    tag = "guests",
    operation_id = "admitGuest",
    responses(
        (status = CREATED, description = "The guest's identity and token.", body = TokenView),
        (status = NOT_FOUND, description = "`GuestsDisabled`: guests are off on this deployment.", body = ErrorBody),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
    security(()),
)]
pub async fn admit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let (identity, token) = state.services.guests.admit(client).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.token_for_view(identity, token)),
    ))
}
