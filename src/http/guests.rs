//! `POST /v1/guests`: a fresh identity with a short-lived guest token, for anyone, when guests
//! are on; rate-limited per client address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::client_address::ClientAddress;
use super::hero::TokenView;
use super::{ApiError, AppState};

pub async fn admit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let created = state.guests.admit(client).await?;
    let token = created.token.ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(state.token_for_view(created.identity.id, token)),
    ))
}
