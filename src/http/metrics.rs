//! Request metrics by route template (so 10 000 random paths make one `unmatched` series, not
//! 10 000), and the `/metrics` and `/version` routes.

use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::telemetry::{self, metrics};

/// Where the router notes which route template a request matched.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

/// Outermost: times every request and counts it under its route template.
pub async fn track(mut request: Request, next: Next) -> Response {
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = method_label(request.method());
    let started = tokio::time::Instant::now();
    let response = next.run(request).await;
    let route = slot.0.get().map_or("unmatched", String::as_str);
    metrics::http_request(method, route, response.status().as_u16(), started.elapsed());
    response
}

/// On matched routes only: records the template for [`track`].
pub async fn note_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    if let (Some(slot), Some(matched)) = (request.extensions().get::<RouteSlot>(), matched) {
        let _ = slot.0.set(matched.as_str().to_owned());
    }
    next.run(request).await
}

/// Standard methods by name; anything else one label, so clients cannot make new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`: Prometheus text format; no access key needed.
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return super::not_found_error().into_response();
    };
    metrics::snapshot(state.revocations.len(), state.store.pool_connections());
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// `GET /version`
pub async fn version() -> axum::Json<Value> {
    axum::Json(json!({ "version": telemetry::VERSION, "commit": telemetry::COMMIT }))
}
