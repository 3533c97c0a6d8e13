//! Passwords after an account is created: its user changes one (with its session and current
//! password), a backend sets one, or issues a one-time reset token the user redeems. Each ends
//! the other (or every) session; a token works once; the policy still applies.

use reqwest::{Method, Response};
use serde_json::json;

use crate::app_client::{PASSWORD, user_path};
use crate::helpers::*;
use crate::test_logs::record_secret;

backend_tests!(
    a_user_changes_its_password_and_its_other_sessions_end,
    a_backend_sets_a_password_and_every_session_ends,
    a_reset_token_works_once_and_a_refused_password_leaves_it_unspent,
    an_unknown_user_has_no_password_to_set,
);

const NEW_PASSWORD: &str = "glass-kayak-88";

async fn action(app: &TestApp, user: &str, action: &str, body: serde_json::Value) -> Response {
    app.signed(Method::POST, &user_path(user, &format!("/{action}")))
        .json(&body)
        .send()
        .await
}

async fn redeem(app: &TestApp, token: &str, password: &str) -> Response {
    app.public_post(
        "/v1/password-resets",
        &json!({ "resetToken": token, "newPassword": password }),
    )
    .await
}

async fn change(app: &TestApp, refresh_token: &str, current: &str, new: &str) -> Response {
    app.public_post(
        "/v1/sessions/change-password",
        &json!({ "refreshToken": refresh_token, "currentPassword": current, "newPassword": new }),
    )
    .await
}

async fn a_user_changes_its_password_and_its_other_sessions_end(app: TestApp) {
    let this = app.new_session("jade").await;
    let this_refresh = this["refreshToken"].as_str().unwrap();
    let other = body(app.sign_in("jade", PASSWORD).await).await;
    let other_refresh = other["refreshToken"].as_str().unwrap();

    let wrong = change(&app, this_refresh, "not her password", NEW_PASSWORD).await;
    assert_error(wrong, 401, "InvalidCredentials").await;
    let common = change(&app, this_refresh, PASSWORD, "password1").await;
    assert_error(common, 400, "InvalidPassword").await;
    assert_eq!(
        change(&app, this_refresh, PASSWORD, NEW_PASSWORD)
            .await
            .status(),
        204
    );

    // The other session ended; this one goes on.
    assert_error(app.refresh(other_refresh).await, 401, "InvalidRefreshToken").await;
    assert_eq!(app.refresh(this_refresh).await.status(), 200);
    assert_error(
        app.sign_in("jade", PASSWORD).await,
        401,
        "InvalidCredentials",
    )
    .await;
    assert_eq!(app.sign_in("jade", NEW_PASSWORD).await.status(), 201);
    let user = this["user"]["id"].as_str().unwrap();
    let events = app
        .audit_events(&format!("appUser={user}&action=account.passwordChanged"), 1)
        .await;
    assert_eq!(events[0]["actor"], "public");
}

async fn a_backend_sets_a_password_and_every_session_ends(app: TestApp) {
    let session = app.new_session("hana").await;
    let user = session["user"]["id"].as_str().unwrap();
    let token = session["accessToken"]["token"].as_str().unwrap();
    let refresh_token = session["refreshToken"].as_str().unwrap();

    let set = action(
        &app,
        user,
        ":setPassword",
        json!({ "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(set.status(), 204);
    assert!(!app.is_active(token).await);
    assert_error(app.refresh(refresh_token).await, 401, "InvalidRefreshToken").await;
    assert_error(
        app.sign_in("hana", PASSWORD).await,
        401,
        "InvalidCredentials",
    )
    .await;
    assert_eq!(app.sign_in("hana", NEW_PASSWORD).await.status(), 201);

    let common = action(
        &app,
        user,
        ":setPassword",
        json!({ "password": "password1" }),
    )
    .await;
    let message = assert_error(common, 400, "InvalidPassword").await;
    assert!(message.contains("rule: not a common password"), "{message}");
    let missing = action(&app, user, ":setPassword", json!({})).await;
    assert_error(missing, 400, "InvalidPassword").await;
}

async fn a_reset_token_works_once_and_a_refused_password_leaves_it_unspent(app: TestApp) {
    let session = app.new_session("ivan").await;
    let user = session["user"]["id"].as_str().unwrap();
    let refresh_token = session["refreshToken"].as_str().unwrap();
    let issued = action(&app, user, ":issuePasswordReset", json!({})).await;
    assert_eq!(issued.status(), 201);
    let issued = body(issued).await;
    let reset = issued["resetToken"].as_str().unwrap();
    record_secret(reset);
    assert!(reset.starts_with("csp_"));
    assert!(issued["expiresOn"].is_string());

    // A refused password does not spend the token.
    let refused = assert_error(
        redeem(&app, reset, "qwerty123").await,
        400,
        "InvalidPassword",
    )
    .await;
    assert!(refused.contains("rule: not a common password"), "{refused}");
    assert_eq!(redeem(&app, reset, NEW_PASSWORD).await.status(), 204);
    assert_error(app.refresh(refresh_token).await, 401, "InvalidRefreshToken").await;
    assert_eq!(app.sign_in("ivan", NEW_PASSWORD).await.status(), 201);

    // Once only; and anything else is the same clear refusal.
    for token in [reset, "csp_unknown", "not-a-token"] {
        let again = redeem(&app, token, "another-kayak-99").await;
        assert_error(again, 400, "InvalidResetToken").await;
    }
    assert_eq!(app.sign_in("ivan", NEW_PASSWORD).await.status(), 201);
    let events = app
        .audit_events(&format!("appUser={user}&action=account.passwordReset"), 1)
        .await;
    assert_eq!(events[0]["actor"], "public");
}

async fn an_unknown_user_has_no_password_to_set(app: TestApp) {
    let nobody = "6f1c3e0a-5b7d-4c2e-9a8f-1d2e3f4a5b6c";
    for name in [":setPassword", ":issuePasswordReset"] {
        let body = json!({ "password": NEW_PASSWORD });
        assert_error(action(&app, nobody, name, body).await, 404, "UserNotFound").await;
    }
}
