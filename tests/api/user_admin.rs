//! Acting on an app user without erasing it: disabling it (no sign-in, no tokens, every session
//! and token ended at once), enabling it again (what was ended stays ended), and ending all its
//! sessions while it stays enabled.

use reqwest::Method;

use crate::app_client::{PASSWORD, user_path};
use crate::audit::actions;
use crate::helpers::*;

backend_tests!(
    a_disabled_user_cannot_sign_in_refresh_or_get_tokens_until_enabled,
    ending_a_users_sessions_keeps_it_enabled,
    acting_on_an_unknown_user_is_a_clear_4xx,
);

/// A signed-in user: its id, its access token and its refresh token.
async fn signed_in(app: &TestApp, name: &str) -> (String, String, String) {
    let session = app.new_session(name).await;
    let field = |value: &serde_json::Value| value.as_str().unwrap().to_owned();
    (
        field(&session["user"]["id"]),
        field(&session["accessToken"]["token"]),
        field(&session["refreshToken"]),
    )
}

async fn act(app: &TestApp, user: &str, action: &str) -> reqwest::Response {
    app.signed(Method::POST, &user_path(user, &format!("/{action}")))
        .send()
        .await
}

async fn a_disabled_user_cannot_sign_in_refresh_or_get_tokens_until_enabled(app: TestApp) {
    let (erin, token, refresh_token) = signed_in(&app, "erin").await;
    assert!(app.is_active(&token).await);

    assert_eq!(act(&app, &erin, ":disable").await.status(), 204);
    assert!(!app.is_active(&token).await, "its tokens die at once");
    assert_error(
        app.refresh(&refresh_token).await,
        401,
        "InvalidRefreshToken",
    )
    .await;
    assert_error(app.sign_in("erin", PASSWORD).await, 403, "UserDisabled").await;
    // Only whoever knows the password learns the account is disabled.
    assert_error(
        app.sign_in("erin", "not her password").await,
        401,
        "InvalidCredentials",
    )
    .await;
    let view = body(app.signed(Method::GET, &user_path(&erin, "")).send().await).await;
    assert!(view["disabledAt"].is_string(), "{view}");
    // Disabling twice is harmless.
    assert_eq!(act(&app, &erin, ":disable").await.status(), 204);

    assert_eq!(act(&app, &erin, ":enable").await.status(), 204);
    let view = body(app.signed(Method::GET, &user_path(&erin, "")).send().await).await;
    assert!(view.get("disabledAt").is_none(), "{view}");
    // What disabling ended stays ended; a new sign-in works.
    assert!(!app.is_active(&token).await);
    assert_error(
        app.refresh(&refresh_token).await,
        401,
        "InvalidRefreshToken",
    )
    .await;
    assert_eq!(app.sign_in("erin", PASSWORD).await.status(), 201);

    let events = app
        .audit_events(&format!("appUser={erin}&action=appUser.disabled"), 2)
        .await;
    assert_eq!(actions(&events), ["appUser.disabled", "appUser.disabled"]);
    let enabled = app
        .audit_events(&format!("appUser={erin}&action=appUser.enabled"), 1)
        .await;
    assert_eq!(enabled[0]["actor"], "accessKey:primary");
}

async fn ending_a_users_sessions_keeps_it_enabled(app: TestApp) {
    let (frank, token, refresh_token) = signed_in(&app, "frank").await;
    let ended = app
        .signed(Method::DELETE, &user_path(&frank, "/sessions"))
        .send()
        .await;
    assert_eq!(ended.status(), 204);
    assert!(!app.is_active(&token).await);
    assert_error(
        app.refresh(&refresh_token).await,
        401,
        "InvalidRefreshToken",
    )
    .await;
    assert_eq!(app.sign_in("frank", PASSWORD).await.status(), 201);
    let events = app
        .audit_events(
            &format!("appUser={frank}&action=session.endedEverywhere"),
            1,
        )
        .await;
    assert_eq!(events[0]["actor"], "accessKey:primary");
}

async fn acting_on_an_unknown_user_is_a_clear_4xx(app: TestApp) {
    let nobody = "6f1c3e0a-5b7d-4c2e-9a8f-1d2e3f4a5b6c";
    for action in [":disable", ":enable"] {
        assert_error(act(&app, nobody, action).await, 404, "UserNotFound").await;
    }
    let ended = app
        .signed(Method::DELETE, &user_path(nobody, "/sessions"))
        .send()
        .await;
    assert_error(ended, 404, "UserNotFound").await;
    assert_error(
        act(&app, "not-a-uuid", ":disable").await,
        400,
        "InvalidUserId",
    )
    .await;
    let (grace, _, _) = signed_in(&app, "grace").await;
    assert_error(act(&app, &grace, ":explode").await, 404, "NotFound").await;
}
