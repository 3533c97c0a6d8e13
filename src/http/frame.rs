//! The frame every request runs in, as one layer (one future per request rather than one per
//! concern): its audit context (actor `public` until authentication names it, client address,
//! request id), its metrics (timed, counted under the route template it matched) and its
//! deadline.
//!
//! The request runs as a task of its own, so a client that disconnects cannot cancel it half
//! way: a database transaction never stops between its statements (and never goes back to the
//! pool still open), and a write the service has started is finished either way.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::client_address::ClientAddress;
use super::metrics::{RouteSlot, method_label};
use super::{ApiError, AppState, ErrorCode, REQUEST_ID, REQUEST_TIMEOUT};
use crate::audit::{Actor, RequestContext};
use crate::telemetry::metrics;

pub async fn frame(
    State(_): State<AppState>,
    ClientAddress(client): ClientAddress,
    mut request: Request,
    next: Next,
) -> Response {
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = method_label(request.method());
    let started = tokio::time::Instant::now();
    let context = RequestContext {
        actor: Actor::Public,
        client_address: Some(client),
        request_id: request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .map(std::sync::Arc::from),
    };
    // In the request's span, so its log lines keep the request id and trace id.
    let handling = tokio::spawn(
        context
            .scope(next.run(request))
            .instrument(tracing::Span::current()),
    );
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, handling).await {
        Ok(Ok(response)) => response,
        Ok(Err(failed)) => {
            tracing::error!(%failed, "a request task failed");
            ApiError::internal().into_response()
        }
        Err(_) => {
            tracing::warn!("request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RequestTimeout,
                "The request took too long; retry later.",
            )
            .into_response()
        }
    };
    metrics::http_request(
        method,
        slot.route(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
