//! The axum layer in front of the backend routes. A request is admitted when it is signed with
//! an active access key (HMAC-SHA256, as the SDKs sign with a connection string), or, when an
//! organisation's identity provider is configured, when it carries that provider's bearer token
//! for an allowed client (as the SDKs send with a `TokenCredential`). Carrying both is refused
//! as ambiguous. For the HMAC check the body is buffered (bounded) to check its hash, then
//! handed on unchanged.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, DATE, HOST};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::rate_limits::{CallerKey, RequestLimits};
use super::{ApiError, ErrorCode, MAX_BODY_BYTES};
use crate::audit::{Actor, RequestContext};
use crate::auth::backend::{BackendCaller, BackendPolicy, Refused};
use crate::auth::hmac::{self, SignedRequest};
use crate::auth::oidc::{BearerAuthority, BearerError};
use crate::clock::SharedClock;
use crate::keys::{KeyRing, KeySlot, RingState, SigningKey};
use crate::telemetry::metrics::{self, AuthFailure};
use crate::text::escaped;

/// Who a request was admitted as.
#[derive(Clone)]
enum Caller {
    AccessKey(KeySlot),
    Bearer(BackendCaller),
}

/// Set on requests that passed: the ring they were checked against and who the caller is.
/// Tokens are minted from that same ring, so a request that raced a regeneration gets a token
/// that dies with the key that authorised it.
#[derive(Clone)]
pub struct Authenticated {
    ring: Arc<RingState>,
    caller: Caller,
}

impl Authenticated {
    /// The signing key for tokens this request asks for: its access key's slot's valid key, or
    /// for a bearer-authenticated backend, the key for callers without an access key.
    pub fn signing_key(&self) -> &SigningKey {
        match &self.caller {
            Caller::AccessKey(slot) => self.ring.signer(*slot),
            Caller::Bearer(_) => self.ring.service_signer(),
        }
    }

    /// Who the caller is, as what it owns (event streams) is kept: `access-key` for either
    /// access key (both are the operator's), `client:<id>` for a backend bearer's client.
    pub fn principal(&self) -> String {
        match &self.caller {
            Caller::AccessKey(_) => "access-key".to_owned(),
            Caller::Bearer(backend) => format!("client:{}", backend.client),
        }
    }

    /// Whether the request was signed with an access key (else it carried a bearer token).
    pub fn is_signed(&self) -> bool {
        matches!(self.caller, Caller::AccessKey(_))
    }

    /// Key administration: the primary access key, or a bearer with an admin role. The
    /// secondary key is for the identity API only, so that the key an application runs with
    /// while the primary is being replaced can neither read nor replace the primary.
    pub fn require_key_administration(&self) -> Result<(), ApiError> {
        match &self.caller {
            Caller::AccessKey(KeySlot::Primary) => Ok(()),
            Caller::AccessKey(KeySlot::Secondary) => {
                tracing::info!("key administration refused: signed with the secondary key");
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    "Key administration needs the primary access key (or a bearer token with an \
                     admin role); the secondary key may call the identity API only.",
                ))
            }
            Caller::Bearer(backend) if backend.may_administer_keys => Ok(()),
            Caller::Bearer(backend) => {
                tracing::info!(client = %escaped(&backend.client), "key administration refused: no admin role");
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    "Key administration needs the primary access key, or a bearer token with an admin role.",
                ))
            }
        }
    }
}

const X_MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");
const X_MS_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-ms-content-sha256");

fn header<'a>(parts: &'a Parts, name: &HeaderName) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// What admitting a backend request takes: the key ring, the organisation's identity provider
/// and its policy, the clock, the per-caller limits and the host signatures must name.
pub struct BackendGate {
    pub ring: Arc<KeyRing>,
    /// The organisation's identity provider, when backends may call with its bearer tokens.
    pub backends: Option<(BearerAuthority, Arc<BackendPolicy>)>,
    pub clock: SharedClock,
    pub limits: Arc<RequestLimits>,
    /// The `Host` access-key signatures must be for (the endpoint's, with
    /// `CALLSIGN_STRICT_HOST=on`); `None`: any.
    pub signed_host: Option<String>,
}

pub async fn require_backend(
    State(state): State<Arc<BackendGate>>,
    request: Request,
    next: Next,
) -> Response {
    let mut authorizations = request.headers().get_all(AUTHORIZATION).iter();
    let first = authorizations.next();
    let bearer = first
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let signed_too = request.headers().contains_key(X_MS_CONTENT_SHA256);
    if authorizations.next().is_some() || (bearer.is_some() && signed_too) {
        tracing::info!("request refused: both an access-key signature and a bearer token");
        metrics::authentication_failed(AuthFailure::Ambiguous);
        return ApiError::unauthorized().into_response();
    }
    match bearer {
        Some(token) => admit_bearer(state, request, next, &token).await,
        None => admit_signed(state, request, next).await,
    }
}

async fn admit_bearer(
    state: Arc<BackendGate>,
    mut request: Request,
    next: Next,
    token: &str,
) -> Response {
    let Some((authority, policy)) = &state.backends else {
        tracing::info!(
            "request refused: a bearer token, but no backend identity provider is configured"
        );
        metrics::authentication_failed(AuthFailure::Bearer);
        return ApiError::unauthorized().into_response();
    };
    let claims = match authority.verify(token).await {
        Ok(claims) => claims,
        Err(BearerError::KeysUnavailable) => {
            tracing::warn!(
                "backend bearer token not checked: the identity provider's keys are unavailable"
            );
            return ApiError::identity_provider_unavailable().into_response();
        }
        Err(reason) => {
            tracing::info!(reason = %escaped(&reason), "request refused: backend bearer token invalid");
            metrics::authentication_failed(AuthFailure::Bearer);
            return invalid_bearer();
        }
    };
    match policy.authorize(&claims) {
        Ok(caller) => {
            tracing::Span::current().record("client", caller.client.as_str());
            if let Err(limited) = state
                .limits
                .check_caller(&CallerKey::Client(caller.client.clone()))
            {
                return limited.into_response();
            }
            let actor = Actor::Client(caller.client.clone());
            request.extensions_mut().insert(Authenticated {
                ring: state.ring.load(),
                caller: Caller::Bearer(caller),
            });
            RequestContext::current()
                .acting_as(actor)
                .scope(next.run(request))
                .await
        }
        Err(Refused::NotAClientToken(reason)) => {
            tracing::info!(
                reason,
                "request refused: backend bearer token is not a client's own"
            );
            metrics::authentication_failed(AuthFailure::Bearer);
            invalid_bearer()
        }
        Err(Refused::NotAllowed { client }) => {
            tracing::info!(client = %escaped(&client), "request refused: client not allowed");
            metrics::authentication_failed(AuthFailure::ClientNotAllowed);
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "The bearer token's client is not allowed to call this service.",
            )
            .into_response()
        }
    }
}

/// 401 for a bearer token that is not valid here, with its challenge.
fn invalid_bearer() -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Denied,
        "Denied: the bearer token is not valid for this service.",
    )
    .with_header(
        axum::http::header::WWW_AUTHENTICATE,
        r#"Bearer error="invalid_token""#,
    )
    .into_response()
}

async fn admit_signed(state: Arc<BackendGate>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return ApiError::payload_too_large().into_response(),
    };
    let host = header(&parts, &HOST)
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
        x_ms_date: header(&parts, &X_MS_DATE),
        date: header(&parts, &DATE),
        content_sha256: header(&parts, &X_MS_CONTENT_SHA256),
        authorization: header(&parts, &AUTHORIZATION),
        expected_host: state.signed_host.as_deref(),
    };
    let ring = state.ring.load();
    let keys = ring.access_keys().each_ref().map(|key| key.request_key());
    match hmac::verify(&signed, &body, &keys, state.clock.now()) {
        Ok(index) => {
            let slot = KeySlot::BOTH[index];
            tracing::Span::current().record("client", slot.as_str());
            if let Err(limited) = state.limits.check_caller(&CallerKey::AccessKey(slot)) {
                return limited.into_response();
            }
            parts.extensions.insert(Authenticated {
                caller: Caller::AccessKey(slot),
                ring: ring.clone(),
            });
            RequestContext::current()
                .acting_as(Actor::AccessKey(slot.as_str()))
                .scope(next.run(Request::from_parts(parts, Body::from(body))))
                .await
        }
        Err(reason) => {
            tracing::info!(%reason, "request refused: access key authentication failed");
            metrics::authentication_failed(AuthFailure::AccessKey);
            ApiError::unauthorized().into_response()
        }
    }
}
