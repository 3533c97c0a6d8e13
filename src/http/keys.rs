//! Key administration through the access-key-authenticated API, shaped like ARM's
//! `listKeys` / `regenerateKey` for a Communication Services resource.

use axum::Json;
use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};

use super::extract::{AcsPath, JsonBody, expect_action};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::keys::{KeySlot, RingState};

/// Holds both access keys: no `Debug`, and never logged.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeysView {
    primary_key: String,
    secondary_key: String,
    primary_connection_string: String,
    secondary_connection_string: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateBody {
    /// `Primary` or `Secondary`.
    key_type: String,
}

/// The connection string a backend pastes into an SDK.
pub fn connection_string(endpoint: &str, access_key: &str) -> String {
    format!("endpoint={endpoint};accesskey={access_key}")
}

fn view(endpoint: &str, ring: &RingState) -> KeysView {
    let primary = ring.access_key(KeySlot::Primary).to_base64();
    let secondary = ring.access_key(KeySlot::Secondary).to_base64();
    KeysView {
        primary_connection_string: connection_string(endpoint, &primary),
        secondary_connection_string: connection_string(endpoint, &secondary),
        primary_key: primary,
        secondary_key: secondary,
    }
}

/// `GET /keys`
pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
) -> Result<Json<KeysView>, ApiError> {
    auth.require_key_administration()?;
    Ok(Json(view(&state.endpoint, &state.keys.ring().load())))
}

/// `POST /keys/:regenerate` with `{"keyType":"Primary"}`: the old key and every token it
/// minted stop working on every instance; the other key is untouched.
pub async fn regenerate(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    AcsPath(action): AcsPath<String>,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> Result<Json<KeysView>, ApiError> {
    expect_action(&action, ":regenerate")?;
    auth.require_key_administration()?;
    let slot = KeySlot::parse(&body.key_type).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidKeyType,
            "keyType must be Primary or Secondary.",
        )
    })?;
    state.keys.regenerate(slot).await?;
    tracing::info!(%slot, "access key regenerated");
    Ok(Json(view(&state.endpoint, &state.keys.ring().load())))
}
