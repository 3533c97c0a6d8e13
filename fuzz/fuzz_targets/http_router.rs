//! Whole requests through the real router (`callsign::fuzzing::FuzzApp`): every route, with its
//! extractors, handlers and SQL, over an in-memory SQLite store.
//!
//! Input: `METHOD PATH?QUERY \n AUTH \n CONTENT-TYPE \n body`. AUTH `hmac` (or `hmac2`) signs the
//! request with the current primary (secondary) access key, as the SDKs do; empty sends no
//! `Authorization`; anything else is sent as it is. An empty CONTENT-TYPE sends none. In the path
//! and the body, `{id}` becomes a freshly created identity, `{user}` an app user, `{token}` and
//! `{refresh}` that user's access and refresh tokens.
//!
//! Whatever the request, the answer is never a 5xx other than 503, and every error has the ACS
//! body `{"error":{"code":"…","message":"…"}}`.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use callsign::auth::hmac;
use callsign::fuzzing::{FuzzApp, HOST, NOW};
use callsign::keys::KeySlot;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const PASSWORD: &str = "fuzz-password";

/// The app, its runtime, and the app user the placeholders name.
struct Harness {
    runtime: Runtime,
    app: FuzzApp,
    user: String,
    access_token: String,
    refresh_token: String,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime
        .block_on(FuzzApp::new())
        .expect("the application builds");
    let account = format!(r#"{{"username":"fuzz","password":"{PASSWORD}"}}"#);
    let (status, created) = runtime.block_on(send(&app, "POST", "/v1/accounts", "", &account));
    assert!(status.is_success(), "{status} {created}");
    let (status, session) = runtime.block_on(send(&app, "POST", "/v1/sessions", "", &account));
    assert!(status.is_success(), "{status} {session}");
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    Harness {
        user: text(&created["id"]),
        access_token: text(&session["accessToken"]["token"]),
        refresh_token: text(&session["refreshToken"]),
        app,
        runtime,
    }
});

/// Sends a JSON request and returns the status and the JSON body (null if none).
async fn send(
    app: &FuzzApp,
    method: &str,
    uri: &str,
    auth: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = request(
        app,
        method,
        uri,
        auth,
        "application/json",
        body.as_bytes().to_vec(),
    )
    .expect("a valid request");
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    let (status, body) = read(response).await;
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

async fn read(response: Response<Body>) -> (StatusCode, Vec<u8>) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, body.to_vec())
}

/// The request, or `None` if the method or URI is not one HTTP can carry.
fn request(
    app: &FuzzApp,
    method: &str,
    uri: &str,
    auth: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Option<Request<Body>> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let date = httpdate::fmt_http_date(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW.unix_timestamp().unsigned_abs()),
    );
    let hash = hmac::content_hash(&body);
    let authorization = match auth {
        "hmac" | "hmac2" => {
            let slot = if auth == "hmac" {
                KeySlot::Primary
            } else {
                KeySlot::Secondary
            };
            let key = app.access_key(slot);
            let signature =
                hmac::sign(&key, method.as_str(), uri, &date, HOST, &hash).unwrap_or_default();
            Some(format!(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
            ))
        }
        "" => None,
        other => Some(other.to_owned()),
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", HOST)
        .header("x-ms-date", date)
        .header("x-ms-content-sha256", hash);
    if let Some(authorization) = authorization {
        builder = builder.header("authorization", authorization);
    }
    if !content_type.is_empty() {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Body::from(body)).ok()
}

/// The ACS error body, exactly: `{"error":{"code":"…","message":"…"}}`.
fn is_acs_error(body: &[u8]) -> bool {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let Some(Value::Object(error)) = body.get("error") else {
        return false;
    };
    body.len() == 1
        && error.len() == 2
        && error.get("code").is_some_and(Value::is_string)
        && error.get("message").is_some_and(Value::is_string)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let mut line = || std::str::from_utf8(parts.next().unwrap_or_default()).ok();
    let (Some(request_line), Some(auth), Some(content_type)) = (line(), line(), line()) else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let Some((method, uri)) = request_line.split_once(' ') else {
        return;
    };
    let harness = &*HARNESS;
    harness.runtime.block_on(async {
        let app = &harness.app;
        let uses_id = uri.contains("{id}") || body.windows(4).any(|w| w == b"{id}");
        let id = if uses_id {
            let (status, created) = send(
                app,
                "POST",
                "/identities?api-version=2023-10-01",
                "hmac",
                "",
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            created["identity"]["id"]
                .as_str()
                .expect("an id")
                .to_owned()
        } else {
            String::new()
        };
        let fill = |text: &str| {
            text.replace("{id}", &id)
                .replace("{user}", &harness.user)
                .replace("{token}", &harness.access_token)
                .replace("{refresh}", &harness.refresh_token)
        };
        let uri = fill(uri);
        let body = match std::str::from_utf8(body) {
            Ok(text) => fill(text).into_bytes(),
            Err(_) => body.to_vec(),
        };
        let Some(request) = request(app, method, &uri, auth, content_type, body) else {
            return;
        };
        let head = request.method() == Method::HEAD;
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let (status, body) = read(response).await;
        let text = String::from_utf8_lossy(&body);
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{method} {uri}: {status} {text}"
        );
        if status.is_client_error() || status.is_server_error() {
            assert!(
                head || is_acs_error(&body),
                "{method} {uri}: {status} {text}"
            );
        }
    });
});
