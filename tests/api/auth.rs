//! Access-key authentication: what is refused, what is accepted.

use serde_json::json;

use crate::helpers::*;

backend_tests!(
    unsigned_request_is_refused,
    wrong_key_is_refused,
    tampered_body_is_refused,
    stale_and_future_dates_are_refused,
    date_within_the_window_is_accepted,
    a_signed_request_replayed_within_the_window_is_served_again,
    secondary_key_is_accepted,
    garbage_authorization_headers_are_refused_uniformly,
);

fn create_path() -> String {
    format!("/identities?{API}")
}

async fn unsigned_request_is_refused(app: TestApp) {
    let response = app.post(&create_path()).unsigned().send().await;
    assert_error(response, 401, "Denied").await;
}

async fn wrong_key_is_refused(app: TestApp) {
    let key =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, random_key()).unwrap();
    let response = app.post(&create_path()).key(&key).send().await;
    assert_error(response, 401, "Denied").await;
}

async fn tampered_body_is_refused(app: TestApp) {
    let response = app
        .post(&create_path())
        .json(&json!({ "createTokenWithScopes": ["chat"] }))
        .send_instead(br#"{"createTokenWithScopes":["voip"]}"#)
        .send()
        .await;
    assert_error(response, 401, "Denied").await;
}

async fn stale_and_future_dates_are_refused(app: TestApp) {
    for offset in [-16 * 60, 16 * 60, -24 * 3600] {
        let response = app
            .post(&create_path())
            .date(http_date(offset))
            .send()
            .await;
        assert_error(response, 401, "Denied").await;
    }
}

async fn date_within_the_window_is_accepted(app: TestApp) {
    for offset in [-14 * 60, 14 * 60] {
        let response = app
            .post(&create_path())
            .date(http_date(offset))
            .send()
            .await;
        assert_eq!(response.status(), 201, "offset {offset}");
    }
}

/// As on ACS, the signature binds the request to its date, not to one use: a captured request
/// can be replayed until its date leaves the window (docs/guides/backends.md says so).
async fn a_signed_request_replayed_within_the_window_is_served_again(app: TestApp) {
    let date = http_date(-60);
    let mut created = Vec::new();
    for _ in 0..2 {
        let response = app
            .post(&create_path())
            .json(&json!({ "createTokenWithScopes": ["chat"] }))
            .date(date.clone())
            .send()
            .await;
        assert_eq!(response.status(), 201);
        created.push(body(response).await["identity"]["id"].clone());
    }
    assert_ne!(created[0], created[1], "each replay is a new request");
}

async fn secondary_key_is_accepted(app: TestApp) {
    let key = app.secondary_key.clone();
    let response = app.post(&create_path()).key(&key).send().await;
    assert_eq!(response.status(), 201);
}

async fn garbage_authorization_headers_are_refused_uniformly(app: TestApp) {
    for authorization in [
        "",
        "HMAC-SHA256",
        "hmac-sha256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AAAA",
        "HMAC-SHA256 SignedHeaders=host&Signature=AAAA",
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=%%%",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
    ] {
        let response = app
            .client
            .post(format!("{}{}", app.base, create_path()))
            .header("authorization", authorization)
            .header("x-ms-date", http_date(0))
            .header(
                "x-ms-content-sha256",
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            )
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "Denied").await;
    }
}

/// The same server reached as `localhost`: a request this handle signs is signed for
/// `localhost:<port>`, not the endpoint's `127.0.0.1:<port>`.
fn as_localhost(app: &TestApp) -> TestApp {
    let port = app.host.rsplit_once(':').unwrap().1;
    let address: std::net::SocketAddr = app.host.parse().unwrap();
    let client = client_builder_trusting(&app.trust_file)
        .resolve("localhost", address)
        .build()
        .unwrap();
    let mut other = app.with_client(client);
    other.base = format!("https://localhost:{port}");
    other.host = format!("localhost:{port}");
    other
}

#[tokio::test]
async fn with_a_strict_host_a_signature_for_another_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_app_with(settings, dir, &[]).await;
    let response = as_localhost(&app).post(&create_path()).send().await;
    assert_eq!(response.status(), 201, "by default any host will do");

    let app = app.restart_with(&["--strict-host", "on"]).await;
    let response = as_localhost(&app).post(&create_path()).send().await;
    assert_error(response, 401, "Denied").await;
    let response = app.post(&create_path()).send().await;
    assert_eq!(response.status(), 201, "the endpoint's own host");
}
