//! Request metrics by route template (so 10 000 random paths make one `unmatched` series, not
//! 10 000), and the `/metrics` and `/version` routes (the ops listener's; `/metrics` on the main
//! listener too when public).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use utoipa::ToSchema;

use super::AppState;
use super::error::ErrorBody;
use crate::telemetry::{self, metrics};

/// On matched routes only: puts the template the request matched on its response, where the
/// request's frame counts it. A plain layer (no boxed future, no clone of the routes inside it
/// per request), since every matched request passes through it.
#[derive(Clone, Copy)]
pub struct NoteRouteLayer;

impl<S> Layer<S> for NoteRouteLayer {
    type Service = NoteRoute<S>;

    fn layer(&self, inner: S) -> NoteRoute<S> {
        NoteRoute { inner }
    }
}

#[derive(Clone)]
pub struct NoteRoute<S> {
    inner: S,
}

impl<S> Service<Request> for NoteRoute<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = NotingRoute<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let matched = request.extensions().get::<MatchedPath>().cloned();
        if let Some(route) = &matched {
            let method = super::frame::otel_method(method_label(request.method()));
            telemetry::name_request(&tracing::Span::current(), method, route.as_str());
        }
        NotingRoute {
            inner: self.inner.call(request),
            matched,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct NotingRoute<F> {
        #[pin]
        inner: F,
        matched: Option<MatchedPath>,
    }
}

impl<F, E> Future for NotingRoute<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(matched) = this.matched.take() {
            response.extensions_mut().insert(matched);
        }
        Poll::Ready(Ok(response))
    }
}

/// The route a response is counted and traced under when its template alone would merge
/// operations (`/identities/{id}/{action}` is both issue and revoke): set by the handler, which
/// knows the action, so a client cannot make new series with actions of its own.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

/// Standard methods by name; anything else one label, so clients cannot make new series.
pub(super) fn method_label(method: &Method) -> &'static str {
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

/// Prometheus metrics
///
/// Prometheus text format, on the ops listener (`CALLSIGN_OPS_LISTEN`); on the main listener
/// only with `CALLSIGN_METRICS=public`. Off with `CALLSIGN_METRICS=off`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "getMetrics",
    responses(
        (status = OK, description = "The metrics.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = NOT_FOUND, description = "`NotFound`: metrics are off, or this is the main listener and they are not public.", body = ErrorBody),
    ),
    security(()),
)]
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return super::not_found_error().into_response();
    };
    metrics::snapshot(
        state.services.revocations.len(),
        state.services.store.pool_connections(),
    );
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// `{"version","commit"}` of the running build.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    #[schema(example = "0.1.0")]
    version: &'static str,
    /// The git commit it was built from.
    commit: &'static str,
}

/// Version
///
/// Only on the ops listener (`CALLSIGN_OPS_LISTEN`): the exact build is no one else's business.
#[utoipa::path(
    get,
    path = "/version",
    tag = "ops",
    operation_id = "getVersion",
    responses(
        (status = OK, description = "The running build.", body = VersionView),
        (status = NOT_FOUND, description = "`NotFound`: on the main listener.", body = ErrorBody),
    ),
    security(()),
)]
pub async fn version() -> axum::Json<VersionView> {
    axum::Json(VersionView {
        version: telemetry::VERSION,
        commit: telemetry::COMMIT,
    })
}
