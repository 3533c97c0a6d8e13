//! The frame every request runs in, as one layer (one future per request rather than one per
//! concern): its request id (always the server's own, returned as `x-request-id`) and the
//! client's own id for it, if short and printable (kept apart, and `x-ms-client-request-id`
//! echoed); its tracing span, continuing the caller's
//! trace; its audit context (actor `public` until authentication names it, client address,
//! request id); its metrics (timed, counted under the route template it matched); its deadline;
//! the `Authorization` header marked sensitive, so no log line shows a signature; and its body,
//! read whole (bounded) before any route sees it.
//!
//! The request is [`Uncancellable`]: a client that disconnects cannot cancel it half way. A
//! handler that panics ends only its request: the client gets a 500 and the process keeps
//! serving.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::body::read_bounded;
use super::client_address::{ClientAddress, TrustedProxies};
use super::metrics::{Route, method_label, otel_method};
use super::uncancellable::Uncancellable;
use super::{ApiError, CLIENT_REQUEST_ID, ErrorCode, REQUEST_ID, REQUEST_TIMEOUT};
use crate::audit::{Actor, RequestContext};
use crate::telemetry::{self, metrics};

pub async fn frame(
    State(proxies): State<Arc<TrustedProxies>>,
    request: Request,
    next: Next,
) -> Response {
    let started = tokio::time::Instant::now();
    let (mut parts, body) = request.into_parts();
    let client = ClientAddress::of(&parts, &proxies);
    if let Ok(address) = &client {
        parts.extensions.insert(*address);
    }
    let mut request = Request::from_parts(parts, body);
    let method = method_label(request.method());
    let headers = request.headers_mut();
    if let Some(authorization) = headers.get_mut(header::AUTHORIZATION) {
        authorization.set_sensitive(true);
    }
    // The server names every request itself; a client's own id is kept beside it, never in
    // its place, and only when it is short and printable.
    let client_request_id = client_request_id(headers);
    let request_id = REQUEST_IDS.next();
    headers.insert(REQUEST_ID, request_id.clone());
    let id = request_id.to_str().ok();
    // Named and attributed as OpenTelemetry's HTTP server conventions say: `{method} {route}`
    // once routing names the route ([`telemetry::name_request`]); the method alone when none
    // matched.
    let span = tracing::info_span!(
        "request",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = otel_method(method),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        url.path = %request.uri().path(),
        network.protocol.version = protocol_version(request.version()),
        client.address = tracing::field::Empty,
        user_agent.original = tracing::field::Empty,
        request_id = id.unwrap_or_default(),
        client_request_id = client_request_id.as_deref().unwrap_or_default(),
        client = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    telemetry::continue_trace(&span, &request);
    let context = RequestContext {
        actor: Actor::Public,
        client_address: client.as_ref().ok().map(|ClientAddress(ip)| *ip),
        request_id: id.map(Arc::from),
        client_request_id: client_request_id.clone(),
        user_agent: user_agent(request.headers()),
    };
    if let Some(ip) = context.client_address {
        span.record("client.address", tracing::field::display(ip));
    }
    if let Some(agent) = &context.user_agent {
        span.record("user_agent.original", agent.as_ref());
    }
    let handling = Uncancellable::new(
        context
            .scope(read_then_run(request, next, client.err()))
            .instrument(span.clone()),
    );
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, handling).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => {
            span.in_scope(|| tracing::error!("a handler panicked"));
            ApiError::internal().into_response()
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!("request timed out"));
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RequestTimeout,
                "The request took too long; retry later.",
            )
            .into_response()
        }
    };
    let elapsed = started.elapsed();
    let status = response.status();
    let route = response.extensions().get::<Route>().map(Route::as_str);
    if route.is_none() {
        span.record("otel.name", otel_method(method));
    }
    span.record("http.response.status_code", status.as_u16());
    span.in_scope(|| {
        // The access log: one line per request, under its own target so a deployment can turn
        // it off (`RUST_LOG=info,callsign::access=off`) without losing anything else.
        let route = route.unwrap_or("unmatched");
        let latency_ms = elapsed.as_micros() as f64 / 1000.0;
        // Probes come every few seconds from every kubelet; their answer is the news, not each.
        let probe = matches!(route, "/healthz" | "/readyz" | "/readyz/database");
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        if probe {
            tracing::debug!(target: "callsign::access", route, status = status.as_u16(), latency_ms, "request");
        } else if status.is_server_error() {
            tracing::error!(target: "callsign::access", route, status = status.as_u16(), latency_ms, "request failed");
        } else {
            tracing::info!(target: "callsign::access", route, status = status.as_u16(), latency_ms, "request");
        }
    });
    metrics::http_request(
        method,
        route.unwrap_or("unmatched"),
        status.as_u16(),
        elapsed,
    );
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    if let Some(echo) = client_request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        headers.insert(CLIENT_REQUEST_ID, echo);
    }
    response
}

fn protocol_version(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_09 => "0.9",
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The longest client request id kept.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// The client's own id for the request: `x-ms-client-request-id` (what the Azure SDKs send),
/// else `x-request-id`, if it is 1 to [`MAX_CLIENT_REQUEST_ID`] visible ASCII characters. Any
/// other value is ignored, so a caller cannot make every log line and audit row carry
/// kilobytes of its choosing.
fn client_request_id(headers: &HeaderMap) -> Option<Arc<str>> {
    [CLIENT_REQUEST_ID, REQUEST_ID]
        .iter()
        .filter_map(|name| headers.get(name))
        .map(HeaderValue::as_bytes)
        .find(|id| {
            (1..=MAX_CLIENT_REQUEST_ID).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
        })
        .and_then(|id| std::str::from_utf8(id).ok())
        .map(Arc::from)
}

/// The longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 256;

/// The client's `User-Agent`, if it is printable ASCII, cut to [`MAX_USER_AGENT`] characters.
fn user_agent(headers: &HeaderMap) -> Option<Arc<str>> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let agent = agent
        .get(..MAX_USER_AGENT.min(agent.len()))
        .unwrap_or(agent)
        .trim();
    (!agent.is_empty() && agent.bytes().all(|b| b == b' ' || b.is_ascii_graphic()))
        .then(|| Arc::from(agent))
}

/// Reads the whole body (bounded) before the routes see the request. A route that answers
/// early (a refused signature, a wrong content type) then never leaves body bytes unread, which
/// would make the connection close with a reset that can reach the client before its answer.
///
/// A request whose client address could not be told (`refused`: a trusted proxy's hop that
/// names no address) is answered with that refusal, inside the frame like any other answer.
async fn read_then_run(request: Request, next: Next, refused: Option<ApiError>) -> Response {
    let (parts, body) = request.into_parts();
    match (read_bounded(body, parts.version).await, refused) {
        (Err(_), _) => ApiError::payload_too_large().into_response(),
        (Ok(_), Some(refused)) => refused.into_response(),
        (Ok(body), None) => next.run(Request::from_parts(parts, Body::from(body))).await,
    }
}

/// Request ids: a random per-process prefix and a counter, unique without a system call per
/// request.
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

static REQUEST_IDS: LazyLock<RequestIds> = LazyLock::new(|| RequestIds {
    prefix: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
    next: AtomicU64::new(0),
});

impl RequestIds {
    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{}-{n:x}", self.prefix))
            .unwrap_or_else(|_| HeaderValue::from_static("unnamed"))
    }
}
