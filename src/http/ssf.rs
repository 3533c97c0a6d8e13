//! The Shared Signals transmitter's public documents (SSF 1.0): the discovery document and
//! the SET-signing JWKS; and how the transmitter's errors answer, for these and the stream
//! routes (`streams.rs`): in the ACS shape like every other error here.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::schemas::Unavailable;
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::signals::stream::{POLL, PUSH};
use crate::signals::transmitter::{
    ADD_SUBJECT_PATH, CONFIGURATION_PATH, JWKS_PATH, REMOVE_SUBJECT_PATH, STATUS_PATH,
    VERIFICATION_PATH,
};
use crate::signals::{SignalError, Transmitter};

impl From<SignalError> for ApiError {
    fn from(error: SignalError) -> Self {
        match error {
            SignalError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::StreamNotFound,
                "No stream with this stream_id was created by this caller.",
            ),
            SignalError::Invalid(message) => {
                ApiError::bad_request(ErrorCode::InvalidStreamRequest, message)
            }
            SignalError::Full => ApiError::too_many_requests(
                std::time::Duration::from_secs(60),
                "The stream holds as many undelivered events as it may; acknowledge or enable it.",
            ),
            SignalError::Store(error) => {
                tracing::warn!(%error, "an event stream request failed in the store");
                ApiError::unavailable()
            }
            SignalError::Keys(error) => {
                tracing::error!(%error, "the event-signing keys are unusable");
                ApiError::internal()
            }
            SignalError::Internal(error) => {
                tracing::error!(%error, "an event stream request failed");
                ApiError::internal()
            }
        }
    }
}

/// Streams are owned by who created them: an access key (either: both belong to the
/// deployment's operator) or a backend bearer's client.
pub(super) fn owner(auth: &Authenticated) -> String {
    auth.principal()
}

pub(super) fn transmitter(state: &AppState) -> &Transmitter {
    &state.services.transmitter
}

/// The transmitter's configuration (SSF §7)
///
/// Public. Where the endpoints below are, how SETs are delivered and signed, and that every
/// subject is in a new stream (`default_subjects: ALL`).
#[utoipa::path(
    get,
    path = "/.well-known/ssf-configuration",
    tag = "signals",
    operation_id = "getSsfConfiguration",
    responses((status = OK, description = "The transmitter configuration metadata.", body = Object)),
    security(()),
)]
pub async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let t = transmitter(&state);
    let mut schemes = vec![json!({"spec_urn": "urn:callsign:hmac-sha256"})];
    if state.backend_gate.backends.is_some() {
        schemes.push(json!({"spec_urn": "urn:ietf:rfc:6750"}));
    }
    Json(json!({
        "spec_version": "1_0",
        "issuer": t.issuer(),
        "jwks_uri": t.url(JWKS_PATH),
        "delivery_methods_supported": [PUSH, POLL],
        "configuration_endpoint": t.url(CONFIGURATION_PATH),
        "status_endpoint": t.url(STATUS_PATH),
        "add_subject_endpoint": t.url(ADD_SUBJECT_PATH),
        "remove_subject_endpoint": t.url(REMOVE_SUBJECT_PATH),
        "verification_endpoint": t.url(VERIFICATION_PATH),
        "authorization_schemes": schemes,
        "default_subjects": "ALL",
    }))
}

/// The SET-signing keys (JWKS)
///
/// Public. The valid key and any retained one; a receiver verifies a SET's signature with
/// the key its `kid` names.
#[utoipa::path(
    get,
    path = "/ssf/jwks.json",
    tag = "signals",
    operation_id = "getSsfJwks",
    responses(
        (status = OK, description = "A JWK Set.", body = Object),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
    security(()),
)]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        transmitter(&state)
            .keys()
            .jwks()
            .await
            .map_err(SignalError::from)?,
    ))
}
