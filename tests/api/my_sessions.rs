//! A user's sessions: listed with where and when each started, ended one by one or all but the
//! current, by the user itself (with its session's refresh token) or by a backend.

use reqwest::Method;
use serde_json::{Value, json};

use crate::app_client::{PASSWORD, user_path};
use crate::helpers::*;
use crate::test_logs::record_secrets_in;

backend_tests!(
    a_user_lists_its_sessions_and_ends_one_or_the_others,
    a_backend_lists_and_ends_a_users_sessions,
);

/// A sign-in from a client that names itself `agent`.
async fn sign_in_as(app: &TestApp, name: &str, agent: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/v1/sessions", app.base))
        .header("user-agent", agent)
        .json(&json!({ "username": name, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let session = body(response).await;
    record_secrets_in(&session);
    session
}

async fn mine(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.public_post(&format!("/v1/sessions/mine{path}"), &body)
        .await
}

fn refresh_token(session: &Value) -> &str {
    session["refreshToken"].as_str().unwrap()
}

async fn a_user_lists_its_sessions_and_ends_one_or_the_others(app: TestApp) {
    app.new_session("mia").await;
    let phone = sign_in_as(&app, "mia", "Phone/1.0").await;
    let laptop = sign_in_as(&app, "mia", "Laptop/2.0").await;
    assert_eq!(app.refresh(refresh_token(&phone)).await.status(), 200);

    let listed = mine(&app, "", json!({ "refreshToken": refresh_token(&laptop) })).await;
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    let sessions = listed["value"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{listed}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["userAgent"], "Laptop/2.0");
    assert_eq!(current[0]["clientAddress"], "127.0.0.1");
    let phone_session = sessions
        .iter()
        .find(|s| s["userAgent"] == "Phone/1.0")
        .unwrap();
    assert!(phone_session["lastRefreshedAt"].is_string());

    // The phone is lost: end it from the laptop.
    let ended = mine(
        &app,
        "/end",
        json!({ "refreshToken": refresh_token(&laptop), "sessionId": phone_session["id"] }),
    )
    .await;
    assert_eq!(ended.status(), 204);
    let again = mine(
        &app,
        "/end",
        json!({ "refreshToken": refresh_token(&laptop), "sessionId": phone_session["id"] }),
    )
    .await;
    assert_error(again, 404, "SessionNotFound").await;

    // Then every other session: only the laptop goes on.
    let others = mine(
        &app,
        "/end-others",
        json!({ "refreshToken": refresh_token(&laptop) }),
    )
    .await;
    assert_eq!(others.status(), 204);
    let listed =
        body(mine(&app, "", json!({ "refreshToken": refresh_token(&laptop) })).await).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(app.refresh(refresh_token(&laptop)).await.status(), 200);
}

async fn a_backend_lists_and_ends_a_users_sessions(app: TestApp) {
    let first = app.new_session("noor").await;
    let user = first["user"]["id"].as_str().unwrap();
    let second = sign_in_as(&app, "noor", "Tablet/3.0").await;
    let other_user = app.new_session("olga").await;

    let listed = app
        .signed(Method::GET, &user_path(user, "/sessions"))
        .send()
        .await;
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    let sessions = listed["value"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.get("current").is_none()));
    let tablet = sessions
        .iter()
        .find(|s| s["userAgent"] == "Tablet/3.0")
        .unwrap()["id"]
        .as_str()
        .unwrap();

    // Another user's session id is not this user's.
    let olgas = body(
        mine(
            &app,
            "",
            json!({ "refreshToken": refresh_token(&other_user) }),
        )
        .await,
    )
    .await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = app
        .signed(
            Method::DELETE,
            &user_path(user, &format!("/sessions/{olgas}")),
        )
        .send()
        .await;
    assert_error(wrong, 404, "SessionNotFound").await;

    let ended = app
        .signed(
            Method::DELETE,
            &user_path(user, &format!("/sessions/{tablet}")),
        )
        .send()
        .await;
    assert_eq!(ended.status(), 204);
    assert_error(
        app.refresh(refresh_token(&second)).await,
        401,
        "InvalidRefreshToken",
    )
    .await;
    assert_eq!(app.refresh(refresh_token(&first)).await.status(), 200);
    assert_eq!(app.refresh(refresh_token(&other_user)).await.status(), 200);
}
