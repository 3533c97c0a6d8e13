//! Built-in accounts and their sessions: sign-in, rotating refresh with reuse detection,
//! sign-out, throttling, and hostile credentials.

use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::helpers::*;

backend_tests!(
    a_sign_in_returns_a_refresh_token_and_a_working_access_token,
    creating_accounts_needs_an_access_key_and_names_are_normalised,
    unknown_user_and_wrong_password_are_indistinguishable,
    refresh_rotates_and_a_spent_token_kills_the_family,
    of_twenty_concurrent_refreshes_exactly_one_wins,
    sign_out_ends_one_session_and_sign_out_everywhere_all,
    failed_sign_ins_are_throttled_with_retry_after,
    hostile_credentials_get_clear_4xx,
    scopes_and_lifetime_stay_within_what_the_deployment_allows,
);

async fn a_sign_in_returns_a_refresh_token_and_a_working_access_token(app: TestApp) {
    let created = app.create_account("Alice", PASSWORD).await;
    assert_eq!(created.status(), 201);
    let account = body(created).await;
    assert_eq!(account["username"], "alice");

    let response = app.sign_in("ALICE", PASSWORD).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session = body(response).await;
    assert_eq!(session["user"]["id"], account["id"]);
    let refresh = session["refreshToken"].as_str().unwrap();
    assert!(
        refresh.starts_with("csr_") && refresh.len() >= 47,
        "{refresh}"
    );
    let token = session["accessToken"]["token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["sub"], session["user"]["communicationUserId"]);
    assert_eq!(claims["acsScope"], "chat,voip");
    assert!(app.is_active(token).await);

    // The same identity on the next sign-in (1:1).
    let again = body(app.sign_in("alice", PASSWORD).await).await;
    assert_eq!(
        again["user"]["communicationUserId"],
        session["user"]["communicationUserId"]
    );
}

async fn creating_accounts_needs_an_access_key_and_names_are_normalised(app: TestApp) {
    let unsigned = app
        .public_post(
            "/v1/accounts",
            &json!({ "username": "mallory", "password": PASSWORD }),
        )
        .await;
    assert_error(unsigned, 401, "Denied").await;

    assert_eq!(app.create_account("bob", PASSWORD).await.status(), 201);
    for look_alike in ["BOB", "ｂｏｂ", "Ｂob"] {
        let response = app.create_account(look_alike, PASSWORD).await;
        assert_error(response, 409, "UsernameTaken").await;
    }
    let mixed = app.create_account("bоb", PASSWORD).await; // Cyrillic о
    assert_error(mixed, 400, "InvalidUsername").await;
}

async fn unknown_user_and_wrong_password_are_indistinguishable(app: TestApp) {
    app.new_session("carol").await;
    let wrong = app.sign_in("carol", "not the password").await;
    let unknown = app.sign_in("nobody-here", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(body(wrong).await, body(unknown).await);
}

async fn refresh_rotates_and_a_spent_token_kills_the_family(app: TestApp) {
    let session = app.new_session("dave").await;
    let first = session["refreshToken"].as_str().unwrap();
    let first_access = session["accessToken"]["token"].as_str().unwrap();

    let rotated = app.refresh(first).await;
    assert_eq!(rotated.status(), 200);
    let rotated = body(rotated).await;
    let second = rotated["refreshToken"].as_str().unwrap();
    assert_ne!(second, first);
    assert!(
        app.is_active(rotated["accessToken"]["token"].as_str().unwrap())
            .await
    );

    // Reuse of the spent token: refused, and the whole family dies with the identity's tokens.
    assert_error(app.refresh(first).await, 401, "InvalidRefreshToken").await;
    assert_error(app.refresh(second).await, 401, "InvalidRefreshToken").await;
    assert!(!app.is_active(first_access).await);
    assert!(
        !app.is_active(rotated["accessToken"]["token"].as_str().unwrap())
            .await
    );

    // Signing in again starts a new family that works.
    let fresh = body(app.sign_in("dave", PASSWORD).await).await;
    let fresh_rt = fresh["refreshToken"].as_str().unwrap();
    assert_eq!(app.refresh(fresh_rt).await.status(), 200);
    assert_error(app.refresh("csr_made-up").await, 401, "InvalidRefreshToken").await;
    assert_error(
        app.refresh("not even shaped").await,
        401,
        "InvalidRefreshToken",
    )
    .await;
}

async fn of_twenty_concurrent_refreshes_exactly_one_wins(app: TestApp) {
    let session = app.new_session("erin").await;
    let token = session["refreshToken"].as_str().unwrap().to_owned();
    let attempts = (0..20).map(|_| app.refresh(&token));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 401),
        "{statuses:?}"
    );
}

async fn sign_out_ends_one_session_and_sign_out_everywhere_all(app: TestApp) {
    let phone = app.new_session("frank").await;
    let laptop = body(app.sign_in("frank", PASSWORD).await).await;
    let tablet = body(app.sign_in("frank", PASSWORD).await).await;
    let rt = |s: &serde_json::Value| s["refreshToken"].as_str().unwrap().to_owned();

    let out = app
        .public_post(
            "/v1/sessions/sign-out",
            &json!({ "refreshToken": rt(&phone) }),
        )
        .await;
    assert_eq!(out.status(), 204);
    assert_error(app.refresh(&rt(&phone)).await, 401, "InvalidRefreshToken").await;
    let laptop = body(app.refresh(&rt(&laptop)).await).await;
    let laptop_access = laptop["accessToken"]["token"].as_str().unwrap();
    assert!(app.is_active(laptop_access).await);

    let everywhere = app
        .public_post(
            "/v1/sessions/sign-out-everywhere",
            &json!({ "refreshToken": rt(&laptop) }),
        )
        .await;
    assert_eq!(everywhere.status(), 204);
    assert_error(app.refresh(&rt(&laptop)).await, 401, "InvalidRefreshToken").await;
    assert_error(app.refresh(&rt(&tablet)).await, 401, "InvalidRefreshToken").await;
    assert!(!app.is_active(laptop_access).await);
    let again = app
        .public_post(
            "/v1/sessions/sign-out",
            &json!({ "refreshToken": rt(&tablet) }),
        )
        .await;
    assert_error(again, 401, "InvalidRefreshToken").await;
}

async fn failed_sign_ins_are_throttled_with_retry_after(app: TestApp) {
    app.new_session("grace").await;
    for _ in 0..5 {
        assert_eq!(app.sign_in("grace", "wrong password").await.status(), 401);
    }
    let throttled = app.sign_in("grace", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_error(throttled, 429, "TooManyRequests").await;
    // Another account from the same address is not locked out by it.
    app.new_session("heidi").await;
}

async fn hostile_credentials_get_clear_4xx(app: TestApp) {
    app.new_session("ivan").await;
    let huge = "x".repeat(1024 * 1024);
    let too_large = app.sign_in("ivan", &huge).await;
    assert_error(too_large, 413, "RequestEntityTooLarge").await;
    // Credentials no account can have are refused like wrong ones.
    for (username, password) in [
        ("ivan", ""),
        ("ivan", "pass\0word!"),
        ("iv an", PASSWORD),
        ("ivаn", PASSWORD),
    ] {
        let refused = app.sign_in(username, password).await;
        assert_error(refused, 401, "InvalidCredentials").await;
    }
    let not_utf8 = app
        .client
        .post(format!("{}/v1/sessions", app.base))
        .header("content-type", "application/json")
        .body(b"{\"username\":\"ivan\",\"password\":\"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_error(not_utf8, 400, "InvalidRequestBody").await;
    let missing = app
        .public_post("/v1/sessions", &json!({ "username": "ivan" }))
        .await;
    assert_error(missing, 400, "InvalidRequestBody").await;
    let wrong_method = app
        .client
        .request(Method::GET, format!("{}/v1/sessions", app.base))
        .send()
        .await
        .unwrap();
    assert_error(wrong_method, 405, "MethodNotAllowed").await;
}

async fn scopes_and_lifetime_stay_within_what_the_deployment_allows(app: TestApp) {
    app.new_session("judy").await;
    let chat_only = app
        .public_post(
            "/v1/sessions",
            &json!({ "username": "judy", "password": PASSWORD, "scopes": ["chat"], "expiresInMinutes": 60 }),
        )
        .await;
    assert_eq!(chat_only.status(), 201);
    let session = body(chat_only).await;
    let claims = claims(session["accessToken"]["token"].as_str().unwrap());
    assert_eq!(claims["acsScope"], "chat");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    let not_allowed = app
        .public_post(
            "/v1/sessions/refresh",
            &json!({ "refreshToken": session["refreshToken"], "scopes": ["chat.join"] }),
        )
        .await;
    assert_error(not_allowed, 403, "ScopeNotAllowed").await;
    let too_long = app
        .public_post(
            "/v1/sessions/refresh",
            &json!({ "refreshToken": session["refreshToken"], "expiresInMinutes": 1441 }),
        )
        .await;
    assert_error(too_long, 400, "InvalidExpiresInMinutes").await;
}
