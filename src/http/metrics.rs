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

/// On matched routes only: names the request's span after the route it matched and puts that
/// route on its response, where the request's frame counts it. A plain layer (no boxed future,
/// no clone of the routes inside it per request), since every matched request passes through it.
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
        let route = request.extensions().get::<MatchedPath>().map(|matched| {
            match action_route(matched.as_str(), request.uri().path()) {
                Some(route) => Route::Action(route),
                None => Route::Template(matched.clone()),
            }
        });
        if let Some(route) = &route {
            let method = otel_method(method_label(request.method()));
            telemetry::name_request(&tracing::Span::current(), method, route.as_str());
        }
        NotingRoute {
            inner: self.inner.call(request),
            route,
        }
    }
}

/// The route a request is counted and traced under.
#[derive(Clone, Debug)]
pub enum Route {
    /// The template it matched.
    Template(MatchedPath),
    /// An operation of an action route ([`ACTION_ROUTES`]).
    Action(&'static str),
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Route::Template(matched) => matched.as_str(),
            Route::Action(route) => route,
        }
    }
}

/// Templates that end in an action (`:issueAccessToken`, `:revokeAccessTokens`) merge
/// operations; each action named here is a route of its own. Any other action keeps the
/// template, so a client cannot make new series with actions of its own.
const ACTION_ROUTES: &[(&str, &str, &str)] = &[
    (
        "/identities/{id}/{action}",
        ":issueAccessToken",
        "/identities/{id}/:issueAccessToken",
    ),
    (
        "/identities/{id}/{action}",
        ":revokeAccessTokens",
        "/identities/{id}/:revokeAccessTokens",
    ),
    ("/tokens/{action}", ":introspect", "/tokens/:introspect"),
    ("/keys/{action}", ":regenerate", "/keys/:regenerate"),
    (
        "/teamsUser/{action}",
        ":exchangeAccessToken",
        "/teamsUser/:exchangeAccessToken",
    ),
];

fn action_route(template: &str, path: &str) -> Option<&'static str> {
    let action = path.rsplit('/').next()?;
    ACTION_ROUTES
        .iter()
        .find(|(known, named, _)| *known == template && *named == action)
        .map(|(_, _, route)| *route)
}

pin_project_lite::pin_project! {
    pub struct NotingRoute<F> {
        #[pin]
        inner: F,
        route: Option<Route>,
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
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

/// The method as OpenTelemetry names it: a standard one by name, anything else `_OTHER`.
pub(super) fn otel_method(label: &'static str) -> &'static str {
    if label == "other" { "_OTHER" } else { label }
}

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
