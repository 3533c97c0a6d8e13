//! Rate limits: per access key, per identity for tokens, per client address on the routes
//! anyone may call; 429 with `Retry-After` and the ACS body; all off with `--rate-limits off`.

use serde_json::json;

use crate::helpers::*;

async fn app_with(extra: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    spawn_app_with(settings, dir, extra).await
}

async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(response, 429, "TooManyRequests").await;
}

#[tokio::test]
async fn each_access_key_has_its_own_budget() {
    let app = app_with(&["--rate-limit-per-key", "3"]).await;
    for _ in 0..3 {
        let ok = app.post(&format!("/identities?{API}")).send().await;
        assert_eq!(ok.status(), 201);
    }
    assert_limited(app.post(&format!("/identities?{API}")).send().await).await;
    let secondary = app
        .post(&format!("/identities?{API}"))
        .key(&app.secondary_key)
        .send()
        .await;
    assert_eq!(secondary.status(), 201, "the other key is counted apart");
}

#[tokio::test]
async fn each_identity_has_its_own_token_budget() {
    let app = app_with(&["--rate-limit-per-identity", "2"]).await;
    let (first, second) = (app.create_identity().await, app.create_identity().await);
    for _ in 0..2 {
        let ok = app.issue(&first, json!({ "scopes": ["chat"] })).await;
        assert_eq!(ok.status(), 200);
    }
    assert_limited(app.issue(&first, json!({ "scopes": ["chat"] })).await).await;
    let other = app.issue(&second, json!({ "scopes": ["chat"] })).await;
    assert_eq!(other.status(), 200);
}

/// A refresh refused for the identity's token budget changes nothing: its refresh token is not
/// spent, so presenting it again is not taken for theft, and works once the budget allows.
#[tokio::test]
async fn a_refresh_over_the_token_budget_keeps_its_refresh_token() {
    let app = app_with(&["--rate-limit-per-identity", "2"]).await;
    let session = app.new_session("thrifty").await; // the first token
    let rotated = body(app.refresh(session["refreshToken"].as_str().unwrap()).await).await;
    let token = rotated["refreshToken"].as_str().unwrap();
    assert_limited(app.refresh(token).await).await;
    // Spent, it would now be reuse: 401, the session ended and its tokens revoked.
    assert_limited(app.refresh(token).await).await;
    assert!(
        app.is_active(rotated["accessToken"]["token"].as_str().unwrap())
            .await
    );
}

#[tokio::test]
async fn public_routes_are_limited_per_client_address() {
    let app = app_with(&["--rate-limit-per-address", "3"]).await;
    let refresh = || {
        app.client
            .post(format!("{}/v1/sessions/refresh", app.base))
            .json(&json!({ "refreshToken": "csr_not-a-token" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(refresh().await.unwrap().status(), 401);
    }
    assert_limited(refresh().await.unwrap()).await;
    let backend = app.post(&format!("/identities?{API}")).send().await;
    assert_eq!(backend.status(), 201, "backend routes are counted per key");
}

#[tokio::test]
async fn limits_can_be_turned_off() {
    let app = app_with(&[
        "--rate-limits",
        "off",
        "--rate-limit-per-key",
        "1",
        "--rate-limit-per-identity",
        "1",
    ])
    .await;
    let id = app.create_identity().await;
    for _ in 0..3 {
        let ok = app.issue(&id, json!({ "scopes": ["chat"] })).await;
        assert_eq!(ok.status(), 200);
    }
}
