//! The document against the routers with every option on (both identity providers, metrics
//! public): every route the main or the ops listener serves is documented, and every documented
//! operation reaches a handler on one of them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::{document, operations};
use crate::auth::backend::BackendPolicy;
use crate::auth::hmac;
use crate::auth::oidc::{BearerAuthority, JwksVerifier, OidcSettings};
use crate::clock::SharedClock;
use crate::http::{AppState, HttpSettings, Surface, ops_router, router};
use crate::keys::KeySlot;
use crate::testing::{Fixture, START};

const HOST: &str = "callsign.test";

/// An identity provider that is never reached: no request here carries a bearer token.
fn identity_provider(clock: &SharedClock, audience: &str) -> BearerAuthority {
    let settings = OidcSettings {
        issuer: "http://127.0.0.1:9/idp".into(),
        jwks_url: Some("http://127.0.0.1:9/idp/jwks".into()),
        refetch_cooldown: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(86_400),
    };
    BearerAuthority {
        verifier: Arc::new(JwksVerifier::new(settings, clock.clone()).expect("verifier")),
        audience: audience.into(),
    }
}

/// The state of a deployment with every route on.
pub(in crate::http) fn everything_on(fixture: &Fixture) -> AppState {
    let clock: SharedClock = fixture.clock.clone();
    let policy = BackendPolicy {
        clients: vec!["backend".into()],
        roles: vec![],
        admin_roles: vec![],
        ..BackendPolicy::default()
    };
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let settings = HttpSettings {
        oidc: Some(identity_provider(&clock, "api://app")),
        backends: Some((
            identity_provider(&clock, "https://communication.azure.com"),
            Arc::new(policy),
        )),
        metrics: Some(metrics.handle()),
        key_routes: true,
        signed_host: Some(HOST.to_owned()),
        ..HttpSettings::default()
    };
    AppState::new(fixture.services.clone(), settings)
}

/// The (method, route template) pairs an axum router serves. axum has no API for this, but its
/// `Debug` output has them: `RouteId(n): MethodRouter(… allow_header: Bytes(b"GET,HEAD") …)`
/// for each route and `Node { paths: {RouteId(n): "/…"} }`. HEAD is left out (axum answers it
/// for every GET).
fn routed_operations(router: &Router) -> BTreeSet<(String, String)> {
    let debug = format!("{router:?}");
    // The path router only, not the fallback router (`/` and `/{*__private__…}`).
    let debug = debug.split("fallback_router").next().unwrap_or_default();
    let (routes, paths) = debug.split_once("node: Node").unwrap_or_default();
    let path_of: HashMap<&str, &str> = paths
        .split("RouteId(")
        .skip(1)
        .filter_map(|part| {
            let (id, rest) = part.split_once("): \"")?;
            Some((id, rest.split('"').next()?))
        })
        .collect();
    let mut operations = BTreeSet::new();
    for part in routes.split("RouteId(").skip(1) {
        let Some((id, rest)) = part.split_once(')') else {
            continue;
        };
        let methods = rest
            .split_once("allow_header: Bytes(b\"")
            .and_then(|(_, methods)| methods.split('"').next())
            .unwrap_or_default();
        for method in methods.split(',').filter(|m| !m.is_empty() && *m != "HEAD") {
            operations.insert((method.to_owned(), path_of[id].to_owned()));
        }
    }
    operations
}

/// Whether a route template serves a documented path: a `{capture}` segment matches any one
/// segment, so `/tokens/{action}` serves `/tokens/:introspect`.
fn serves(template: &str, path: &str) -> bool {
    let template: Vec<_> = template.split('/').collect();
    let path: Vec<_> = path.split('/').collect();
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

fn is_docs_route(template: &str) -> bool {
    template == "/openapi.json" || template == "/docs" || template.starts_with("/docs/")
}

#[tokio::test]
async fn every_route_of_the_fully_configured_router_is_documented() {
    let fixture = Fixture::new().await;
    let state = everything_on(&fixture);
    let mut routed = routed_operations(&router(state.clone(), Surface::ApiAndMetrics));
    routed.extend(routed_operations(&ops_router(state)));
    // The parser must have found the routes, including those that options turn on.
    for known in [
        ("POST", "/identities/{id}/{action}"),
        ("GET", "/api/user"),
        ("GET", "/metrics"),
        ("GET", "/version"),
        ("GET", "/openapi.json"),
    ] {
        let known = (known.0.to_owned(), known.1.to_owned());
        assert!(routed.contains(&known), "{known:?} not in {routed:?}");
    }
    let documented = operations(&document());
    for (method, template) in routed.iter().filter(|(_, t)| !is_docs_route(t)) {
        assert!(
            documented
                .iter()
                .any(|(m, path, _)| m == method && serves(template, path)),
            "{method} {template} is served but not documented"
        );
    }
}

/// A body with the required fields of every documented request body, so that no body is
/// refused before its handler checks the action (`keyType` is valid JSON, but no key type).
/// Callsign's own `/v1/…` routes refuse unknown fields: each gets only its own.
fn body_for(path: &str) -> &'static [u8] {
    match path {
        "/v1/accounts" | "/v1/sessions" => br#"{"username":"someone","password":"long enough"}"#,
        "/v1/sessions/refresh"
        | "/v1/sessions/sign-out"
        | "/v1/sessions/sign-out-everywhere"
        | "/v1/sessions/mine"
        | "/v1/sessions/mine/end-others" => {
            br#"{"refreshToken":"csr_unknown"}"#
        }
        "/v1/token" => br#"{"scopes":["chat"]}"#,
        "/v1/sessions/mine/end" => {
            br#"{"refreshToken":"csr_unknown","sessionId":"00000000-0000-0000-0000-000000000000"}"#
        }
        "/v1/password-resets" => br#"{"resetToken":"csp_unknown","newPassword":"long enough"}"#,
        "/v1/sessions/change-password" => {
            br#"{"refreshToken":"csr_unknown","currentPassword":"long enough","newPassword":"long enough"}"#
        }
        "/ssf/status" => br#"{"stream_id":"none","status":"enabled"}"#,
        "/ssf/subjects:add" | "/ssf/subjects:remove" => br#"{"stream_id":"none","subject":{}}"#,
        "/ssf/verify" => br#"{"stream_id":"none"}"#,
        // `:setPassword` and the other app-user actions, which share its body.
        path if path.starts_with("/v1/users/") => br#"{"password":"long enough"}"#,
        _ => br#"{"scopes":["chat"],"token":"t","keyType":"Tertiary"}"#,
    }
}

/// A request as an SDK signs it with the primary access key, at the fixture's time.
fn signed(fixture: &Fixture, method: &str, path_and_query: &str) -> Request<Body> {
    let body = body_for(path_and_query.split('?').next().unwrap_or_default());
    let date = httpdate::fmt_http_date(
        SystemTime::UNIX_EPOCH + Duration::from_secs(START.unix_timestamp().unsigned_abs()),
    );
    let hash = hmac::content_hash(body);
    let ring = fixture.keys.ring().load();
    let key = ring.access_key(KeySlot::Primary).secret();
    let signature = hmac::sign(key, method, path_and_query, &date, HOST, &hash).expect("HMAC");
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", HOST)
        .header("x-ms-date", date)
        .header("x-ms-content-sha256", hash)
        .header(
            "authorization",
            format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
            ),
        )
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a request")
}

/// Every documented operation, sent signed (the public routes ignore the signature), reaches
/// its handler on a listener that serves it (the ops listener for its routes): neither the
/// fallback's nor an unknown action's `NotFound`, nor a 405.
#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let fixture = Fixture::new().await;
    let state = everything_on(&fixture);
    let main = router(state.clone(), Surface::ApiAndMetrics);
    let ops = ops_router(state);
    let ops_operations = routed_operations(&ops);
    let documented = operations(&document());
    assert!(documented.len() > 20, "{documented:?}");
    for (method, path, operation) in documented {
        let signature_counts = operation["security"].to_string().contains("hmac");
        let path = path
            .replace(
                "{id}",
                "8:acs:test-resource_00000000-0000-0000-0000-000000000000",
            )
            .replace("{userId}", "00000000-0000-0000-0000-000000000000")
            .replace("{sessionId}", "00000000-0000-0000-0000-000000000000");
        let uri = format!("{path}?api-version=2023-10-01");
        let app = if ops_operations.contains(&(method.clone(), path.clone())) {
            &ops
        } else {
            &main
        };
        let response = app
            .clone()
            .oneshot(signed(&fixture, &method, &uri))
            .await
            .expect("a response");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let code = serde_json::from_slice::<Value>(&body)
            .map(|body| body["error"]["code"].clone())
            .unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_ne!(code, "NotFound", "{method} {uri} reaches no handler");
        // Else a refused signature would hide an unknown action behind a 401.
        if signature_counts {
            assert_ne!(code, "Denied", "{method} {uri}: the signature was refused");
        }
        assert_ne!(
            code, "InvalidRequestBody",
            "{method} {uri}: give body_for the body's required fields"
        );
    }
}
