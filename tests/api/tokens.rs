//! Issuing and revoking tokens: scopes, lifetimes, revocation semantics.

use serde_json::json;

use crate::helpers::*;

backend_tests!(
    lifetime_bounds_are_60_and_1440_minutes,
    lifetime_defaults_to_1440_minutes,
    every_acs_scope_is_accepted_and_others_refused,
    token_issued_before_revoke_is_rejected_and_after_is_accepted,
    revocation_leaves_other_identities_alone,
);

async fn lifetime_bounds_are_60_and_1440_minutes(app: TestApp) {
    let id = app.create_identity().await;
    for (minutes, ok) in [
        (59, false),
        (60, true),
        (1440, true),
        (1441, false),
        (0, false),
        (-1, false),
    ] {
        let response = app
            .issue(
                &id,
                json!({ "scopes": ["chat"], "expiresInMinutes": minutes }),
            )
            .await;
        if ok {
            assert_eq!(response.status(), 200, "{minutes}");
            let token = body(response).await["token"].as_str().unwrap().to_owned();
            let claims = claims(&token);
            assert_eq!(
                claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
                minutes * 60
            );
        } else {
            let message = assert_error(response, 400, "InvalidExpiresInMinutes").await;
            let bound = if minutes < 60 { "60" } else { "1440" };
            assert!(message.contains(bound), "{minutes}: {message}");
        }
    }
    let response = app
        .post(&format!("/identities?{API}"))
        .json(&json!({ "createTokenWithScopes": ["chat"], "expiresInMinutes": 1441 }))
        .send()
        .await;
    assert_error(response, 400, "InvalidExpiresInMinutes").await;
}

async fn lifetime_defaults_to_1440_minutes(app: TestApp) {
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    let claims = claims(&token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1440 * 60
    );
}

async fn every_acs_scope_is_accepted_and_others_refused(app: TestApp) {
    let id = app.create_identity().await;
    let all = [
        "chat",
        "voip",
        "chat.join",
        "chat.join.limited",
        "voip.join",
    ];
    let response = app.issue(&id, json!({ "scopes": all })).await;
    assert_eq!(response.status(), 200);
    let token = body(response).await["token"].as_str().unwrap().to_owned();
    let introspection = app.introspect(&token).await;
    assert_eq!(
        introspection["scopes"].as_array().unwrap().len(),
        5,
        "{introspection}"
    );

    for (scopes, code) in [
        (json!([]), "InvalidScopes"),
        (json!(["chat", "admin"]), "InvalidScopes"),
        (json!(["Chat"]), "InvalidScopes"),
        (json!("chat"), "InvalidRequestBody"),
        (json!([1]), "InvalidRequestBody"),
        (json!(null), "InvalidRequestBody"),
    ] {
        let response = app.issue(&id, json!({ "scopes": scopes })).await;
        assert_error(response, 400, code).await;
    }
    let missing = app.issue(&id, json!({})).await;
    assert_error(missing, 400, "InvalidRequestBody").await;
}

async fn token_issued_before_revoke_is_rejected_and_after_is_accepted(app: TestApp) {
    let id = app.create_identity().await;
    let before = app.token_for(&id).await;
    assert!(app.is_active(&before).await);

    assert_eq!(app.revoke(&id).await.status(), 204);
    let after = app.token_for(&id).await;
    assert!(!app.is_active(&before).await, "issued before the revoke");
    assert!(app.is_active(&after).await, "issued after the revoke");

    assert_eq!(app.revoke(&id).await.status(), 204);
    assert!(
        !app.is_active(&after).await,
        "a second revoke kills the newer token"
    );
}

async fn revocation_leaves_other_identities_alone(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let alice_token = app.token_for(&alice).await;
    let bob_token = app.token_for(&bob).await;
    assert_eq!(app.revoke(&alice).await.status(), 204);
    assert!(!app.is_active(&alice_token).await);
    assert!(app.is_active(&bob_token).await);
}
