//! Key administration through the API, shaped like ARM's `listKeys` / `regenerateKey` for a
//! Communication Services resource; served only with `CALLSIGN_KEY_ADMIN=api` (the command
//! line always administers keys). Open to the primary access key or a bearer token with an
//! admin role, and each signed request is admitted once: a captured request replayed within
//! its date window, on any instance, is refused.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{AcsPath, JsonBody, expect_action};
use super::schemas::{BackendRefusals, BadRequest, BodyRefusals, Unavailable};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::auth::hmac;
use crate::keys::{KeySlot, RingState};
use crate::telemetry::metrics::{self, AuthFailure};

/// Holds both access keys: no `Debug`, and never logged.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(description = "Both access keys and their connection strings.")]
pub struct KeysView {
    /// Base64.
    primary_key: String,
    secondary_key: String,
    /// `endpoint=https://…/;accesskey=…`, what an SDK is given.
    primary_connection_string: String,
    secondary_connection_string: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateBody {
    /// `Primary` or `Secondary` (any case).
    #[schema(
        example = "Primary",
        pattern = "^([Pp][Rr][Ii][Mm][Aa][Rr][Yy]|[Ss][Ee][Cc][Oo][Nn][Dd][Aa][Rr][Yy])$"
    )]
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

/// List the access keys
///
/// Served with `CALLSIGN_KEY_ADMIN=api`. Open to the primary access key, or a bearer token with
/// an admin role; a signed request is admitted once. Every listing is audited
/// (`accessKey.listed`).
#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    operation_id = "listKeys",
    responses(
        (status = OK, description = "Both keys and their connection strings.", body = KeysView),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    headers: HeaderMap,
) -> Result<Json<KeysView>, ApiError> {
    admit_once(&state, &auth, &headers).await?;
    let ring = state
        .services
        .keys
        .reveal()
        .await
        .map_err(|_| ApiError::audit_backlogged())?;
    Ok(Json(view(&state.services.endpoint, &ring)))
}

/// Regenerate an access key
///
/// The old key and every token its slot signed stop working on every instance within a
/// second; the other key is untouched. Served with `CALLSIGN_KEY_ADMIN=api`. Open to the
/// primary access key, or a bearer token with an admin role; a signed request is admitted once.
#[utoipa::path(
    post,
    path = "/keys/:regenerate",
    tag = "keys",
    operation_id = "regenerateKey",
    request_body = RegenerateBody,
    responses(
        (status = OK, description = "Both keys, one of them new.", body = KeysView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn regenerate(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    headers: HeaderMap,
    AcsPath(action): AcsPath<String>,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> Result<Json<KeysView>, ApiError> {
    expect_action(&action, ":regenerate")?;
    admit_once(&state, &auth, &headers).await?;
    let slot = KeySlot::parse(&body.key_type).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidKeyType,
            "keyType must be Primary or Secondary.",
        )
    })?;
    state.services.keys.regenerate(slot).await?;
    tracing::info!(%slot, "access key regenerated");
    Ok(Json(view(
        &state.services.endpoint,
        &state.services.keys.ring().load(),
    )))
}

/// Key administration's admission: the caller may administer keys, and a signed request has not
/// been admitted before. A replay gets the same 401 as any other signature failure. The
/// signature's digest is taken here, not for every signed request: only these routes need it.
async fn admit_once(
    state: &AppState,
    auth: &Authenticated,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    auth.require_key_administration()?;
    if !auth.is_signed() {
        return Ok(());
    }
    // The signature was verified from this header, so it parses; refuse if it somehow does not.
    let digest = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(hmac::signature_digest)
        .ok_or_else(ApiError::unauthorized)?;
    if state.services.keys.use_signature_once(&digest).await? {
        Ok(())
    } else {
        tracing::warn!("key administration refused: a signed request was replayed");
        metrics::authentication_failed(AuthFailure::Replayed);
        Err(ApiError::unauthorized())
    }
}
