//! A spent refresh token presented again, to refresh or to sign out, is theft: every session of
//! its user ends and the tokens of the identities only that user holds are revoked. An identity
//! the user shares with others keeps its tokens, and the others their sessions.

use serde_json::{Value, json};

use crate::app_client::*;
use crate::helpers::*;

backend_tests!(
    signing_out_with_a_spent_token_is_reuse_and_ends_every_session,
    signing_out_everywhere_with_a_spent_token_is_reuse_too,
    reuse_spares_the_tokens_and_sessions_of_those_sharing_the_identity,
);

fn refresh_token(session: &Value) -> String {
    session["refreshToken"].as_str().unwrap().to_owned()
}

fn access_token(session: &Value) -> String {
    session["accessToken"]["token"].as_str().unwrap().to_owned()
}

/// Two sessions of a new user, the first rotated once: (its spent token, its rotated session,
/// the other session).
async fn two_sessions_one_rotated(app: &TestApp, name: &str) -> (String, Value, Value) {
    let first = app.new_session(name).await;
    let other = body(app.sign_in(name, PASSWORD).await).await;
    let rotated = app.refresh(&refresh_token(&first)).await;
    assert_eq!(rotated.status(), 200);
    (refresh_token(&first), body(rotated).await, other)
}

async fn assert_everything_ended(app: &TestApp, rotated: &Value, other: &Value) {
    for session in [rotated, other] {
        let refused = app.refresh(&refresh_token(session)).await;
        assert_error(refused, 401, "InvalidRefreshToken").await;
    }
    assert!(!app.is_active(&access_token(rotated)).await);
}

async fn signing_out_with_a_spent_token_is_reuse_and_ends_every_session(app: TestApp) {
    let (spent, rotated, other) = two_sessions_one_rotated(&app, "kim").await;
    let out = app
        .public_post("/v1/sessions/sign-out", &json!({ "refreshToken": spent }))
        .await;
    assert_error(out, 401, "InvalidRefreshToken").await;
    assert_everything_ended(&app, &rotated, &other).await;
}

async fn signing_out_everywhere_with_a_spent_token_is_reuse_too(app: TestApp) {
    let (spent, rotated, other) = two_sessions_one_rotated(&app, "lou").await;
    let out = app
        .public_post(
            "/v1/sessions/sign-out-everywhere",
            &json!({ "refreshToken": spent }),
        )
        .await;
    assert_error(out, 401, "InvalidRefreshToken").await;
    assert_everything_ended(&app, &rotated, &other).await;
}

async fn reuse_spares_the_tokens_and_sessions_of_those_sharing_the_identity(app: TestApp) {
    // Alice's identity is Bob's too (N:M), and the one his sessions are for.
    let alice = app.new_session("alice").await;
    let shared = alice["user"]["communicationUserId"].as_str().unwrap();
    let bob = body(app.create_account("bob", PASSWORD).await).await;
    let bob_id = bob["id"].as_str().unwrap();
    let linking = user_path(bob_id, &format!("/identities/{}", encoded(shared)));
    assert_eq!(app.post(&linking).send().await.status(), 201);
    let bobs = body(app.sign_in("bob", PASSWORD).await).await;
    assert_eq!(bobs["user"]["communicationUserId"], shared);

    // Alice presents a spent token of hers again.
    let rotated = body(app.refresh(&refresh_token(&alice)).await).await;
    let reused = app.refresh(&refresh_token(&alice)).await;
    assert_error(reused, 401, "InvalidRefreshToken").await;

    // Her sessions end; Bob keeps his token and his session.
    let hers = app.refresh(&refresh_token(&rotated)).await;
    assert_error(hers, 401, "InvalidRefreshToken").await;
    assert!(app.is_active(&access_token(&bobs)).await);
    let his = app.refresh(&refresh_token(&bobs)).await;
    assert_eq!(his.status(), 200);
    assert!(app.is_active(&access_token(&body(his).await)).await);
}
