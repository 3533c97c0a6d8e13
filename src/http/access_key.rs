//! The axum layer that admits only requests signed with an active access key. It buffers the
//! body (bounded) to check its hash, then hands it on unchanged.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, DATE, HOST};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::{ApiError, AppState, MAX_BODY_BYTES};
use crate::auth::hmac::{self, SignedRequest};
use crate::keys::{KeySlot, RingState, SigningKey};

/// Set on requests that passed: the ring they were checked against and which access key signed
/// them. Tokens are minted with that key's pair from that same ring, so a request that raced a
/// regeneration gets a token that dies with the key that authorised it.
#[derive(Clone)]
pub struct Authenticated {
    ring: Arc<RingState>,
    slot: KeySlot,
}

impl Authenticated {
    /// The valid signing key of the slot that authenticated this request.
    pub fn signing_key(&self) -> &SigningKey {
        self.ring.signer(self.slot)
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn require_access_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return ApiError::payload_too_large().into_response(),
    };
    let host = header(&parts, HOST.as_str())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path_and_query,
        host,
        x_ms_date: header(&parts, "x-ms-date"),
        date: header(&parts, DATE.as_str()),
        content_sha256: header(&parts, "x-ms-content-sha256"),
        authorization: header(&parts, AUTHORIZATION.as_str()),
    };
    let ring = state.keys.ring().load();
    let keys = ring.access_keys().each_ref().map(|key| key.secret());
    match hmac::verify(&signed, &body, &keys, state.clock.now()) {
        Ok(index) => {
            parts.extensions.insert(Authenticated {
                slot: KeySlot::BOTH[index],
                ring: ring.clone(),
            });
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
        Err(reason) => {
            tracing::info!(%reason, "request refused: access key authentication failed");
            ApiError::unauthorized().into_response()
        }
    }
}
