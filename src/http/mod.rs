//! The HTTP surface, one file per resource: the ACS-compatible identity API and Callsign's own
//! token, key and app-user administration routes (access-key authenticated); the routes client
//! apps call for their users (sessions, guests, and, with an identity provider, the bearer
//! routes); the ops probes; the OpenAPI document and its docs page; and the middleware around
//! them.

mod accounts;
mod api_version;
mod audit;
mod backend_auth;
mod bearer;
mod body;
mod client_address;
mod error;
mod error_code;
mod extract;
mod frame;
mod guests;
mod hero;
mod identities;
mod keys;
mod metrics;
mod my_sessions;
mod openapi;
mod ops;
mod org_users;
mod paging;
mod passwords;
mod rate_limits;
mod schemas;
mod sessions;
mod ssf;
mod state;
mod stream_docs;
mod streams;
mod tokens;
mod uncancellable;
mod user_admin;
mod user_search;
mod users;
mod views;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

pub use backend_auth::Authenticated;
pub use client_address::TrustedProxies;
pub use error::{ApiError, ErrorCode};
pub use keys::connection_string;
pub use openapi::ApiDoc;
pub use rate_limits::RequestLimits;
pub use state::{AppState, HttpSettings, Shared};

use backend_auth::require_backend;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Requests taking longer are cut off.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// CORS for browser clients from the configured origins (none: no CORS layer at all).
fn cors(origins: &[HeaderValue]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-ms-date"),
            HeaderName::from_static("x-ms-content-sha256"),
            CLIENT_REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600));
    Some(layer)
}

/// What the main listener serves besides the API, the probes and the docs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Nothing more: `/metrics` and `/version` are on the ops listener.
    Api,
    /// `/metrics` too (`CALLSIGN_METRICS=public`).
    ApiAndMetrics,
}

/// The main listener's routes. The OpenAPI document and its docs page are public, like the
/// probes. `/version` names the exact build, which is of use to an attacker: it is on the ops
/// listener only.
pub fn router(state: AppState, surface: Surface) -> Router {
    let api = api(&state);
    let mut ops = probes();
    if surface == Surface::ApiAndMetrics && state.metrics.is_some() {
        ops = ops.route("/metrics", get(metrics::render));
    }
    let ops = ops.merge(openapi::docs());
    with_layers(api.merge(ops.route_layer(metrics::NoteRouteLayer)), state)
}

/// The separate ops listener's routes: probes, version and metrics.
pub fn ops_router(state: AppState) -> Router {
    let mut ops = probes().route("/version", get(metrics::version));
    if state.metrics.is_some() {
        ops = ops.route("/metrics", get(metrics::render));
    }
    with_layers(ops.route_layer(metrics::NoteRouteLayer), state)
}

fn probes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/readyz/database", get(ops::readyz_database))
}

fn api(state: &AppState) -> Router<AppState> {
    let acs = Router::new()
        .route("/identities", post(identities::create))
        .route(
            "/identities/{id}",
            get(identities::get).delete(identities::delete),
        )
        .route("/identities/{id}/{action}", post(identities::action))
        .route("/teamsUser/{action}", post(org_users::exchange));
    let mut own = Router::new()
        .route("/tokens/{action}", post(tokens::introspect))
        .route("/v1/users", get(user_search::list))
        .route("/v1/users/{user_id}", get(users::get).delete(users::erase))
        .route("/v1/users/{user_id}/{action}", post(user_admin::action))
        .route(
            "/v1/users/{user_id}/sessions",
            get(user_admin::list_sessions).delete(user_admin::end_sessions),
        )
        .route(
            "/v1/users/{user_id}/sessions/{session_id}",
            axum::routing::delete(user_admin::end_session),
        )
        .route(
            "/v1/users/{user_id}/identities",
            post(users::create_identity),
        )
        .route(
            "/v1/users/{user_id}/identities/{id}",
            post(users::link).delete(users::unlink),
        )
        .route("/v1/identities/{id}/users", get(users::users_of))
        .route("/v1/audit-events", get(audit::list))
        .route(
            "/ssf/streams",
            get(streams::read)
                .post(streams::create)
                .patch(streams::update)
                .put(streams::replace)
                .delete(streams::delete),
        )
        .route(
            "/ssf/status",
            get(streams::status).post(streams::set_status),
        )
        .route("/ssf/subjects:add", post(streams::add_subject))
        .route("/ssf/subjects:remove", post(streams::remove_subject))
        .route("/ssf/verify", post(streams::verify))
        .route("/ssf/poll/{stream_id}", post(streams::poll));
    if state.key_routes {
        own = own
            .route("/keys", get(keys::list))
            .route("/keys/{action}", post(keys::regenerate));
    }
    // App users and guests authenticate themselves (a password, a refresh token, a bearer);
    // the token-verification keys and the event transmitter's discovery document and keys are
    // public.
    let mut app = Router::new()
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/.well-known/ssf-configuration", get(ssf::discovery))
        .route("/ssf/jwks.json", get(ssf::jwks))
        .route("/v1/sessions", post(sessions::sign_in))
        .route("/v1/sessions/refresh", post(sessions::refresh))
        .route("/v1/sessions/sign-out", post(sessions::sign_out))
        .route(
            "/v1/sessions/sign-out-everywhere",
            post(sessions::sign_out_everywhere),
        )
        .route("/v1/guests", post(guests::admit))
        .route("/v1/password-resets", post(passwords::redeem))
        .route("/v1/sessions/change-password", post(passwords::change))
        .route("/v1/sessions/mine", post(my_sessions::list))
        .route("/v1/sessions/mine/end", post(my_sessions::end))
        .route(
            "/v1/sessions/mine/end-others",
            post(my_sessions::end_others),
        );
    if state.oidc.0.is_some() {
        app = app
            .route(
                "/api/user",
                get(hero::get_user)
                    .post(hero::create_user)
                    .delete(hero::delete_user),
            )
            .route("/api/token", get(hero::token))
            .route("/v1/token", post(hero::v1_token));
    }
    let (app, own) = if state.services.users.policy().open_registration {
        (app.route("/v1/accounts", post(accounts::create)), own)
    } else {
        (app, own.route("/v1/accounts", post(accounts::create)))
    };
    // Each group's layers are composed into one route layer: every separate route layer would
    // box each route again, and every box costs a clone and an allocation per request.
    let authenticated = acs.merge(own).route_layer(
        ServiceBuilder::new()
            .layer(metrics::NoteRouteLayer)
            .layer(no_store())
            .layer(from_fn_with_state(
                state.backend_gate.clone(),
                require_backend,
            )),
    );
    let app = app.route_layer(
        ServiceBuilder::new()
            .layer(metrics::NoteRouteLayer)
            .layer(no_store())
            .layer(from_fn_with_state(
                state.limits.clone(),
                rate_limits::limit_by_address,
            )),
    );
    authenticated.merge(app)
}

/// Responses carry tokens and keys: no cache may keep them.
fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// The middleware every listener has, outermost last. Every route group notes its route
/// template for the metrics ([`metrics::NoteRouteLayer`]).
fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let cors = cors(&state.cors_origins);
    let proxies = state.trusted_proxies.clone();
    routes
        .fallback(|| async { not_found_error() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "This method is not allowed on this route.",
            )
        })
        .with_state(state)
        .layer(tower::util::option_layer(cors))
        .layer(from_fn_with_state(proxies, frame::frame))
}

fn not_found_error() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "No such route. /openapi.json lists the routes Callsign serves.",
    )
}

#[cfg(test)]
mod tests;
