//! App users as backends see them: the identity mapping in all four shapes, erasure (and what
//! happens to an identity shared with another user), and guests.

use reqwest::Method;

use crate::app_client::*;
use crate::helpers::*;

backend_tests!(
    users_hold_several_identities_and_share_them,
    erasure_deletes_sole_identities_keeps_shared_ones_and_ends_sessions,
    bad_user_ids_and_unknown_users_are_clear_4xx,
);

/// An account with a session; returns (user id, its default identity, refresh token).
async fn user(app: &TestApp, name: &str) -> (String, String, String) {
    let session = app.new_session(name).await;
    (
        session["user"]["id"].as_str().unwrap().to_owned(),
        session["user"]["communicationUserId"]
            .as_str()
            .unwrap()
            .to_owned(),
        session["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn users_hold_several_identities_and_share_them(app: TestApp) {
    let (alice, alice_first, _) = user(&app, "alice").await;
    let (bob, _, _) = user(&app, "bob").await;

    // 1:N: one more identity for Alice.
    let created = app.post(&user_path(&alice, "/identities")).send().await;
    assert_eq!(created.status(), 201);
    let alice_second = body(created).await["communicationUserId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(alice_second, alice_first);

    // N:M: Alice's first identity is linked to Bob too; linking again is 200.
    let linking = user_path(&bob, &format!("/identities/{}", encoded(&alice_first)));
    assert_eq!(app.post(&linking).send().await.status(), 201);
    assert_eq!(app.post(&linking).send().await.status(), 200);

    let alice_view = body(app.signed(Method::GET, &user_path(&alice, "")).send().await).await;
    assert_eq!(alice_view["username"], "alice");
    assert_eq!(
        alice_view["identities"],
        serde_json::json!([alice_first, alice_second])
    );
    let holders = app
        .signed(
            Method::GET,
            &format!("/v1/identities/{}/users", encoded(&alice_first)),
        )
        .send()
        .await;
    let holders = body(holders).await;
    let mut holders: Vec<&str> = holders["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    holders.sort_unstable();
    let mut expected = vec![alice.as_str(), bob.as_str()];
    expected.sort_unstable();
    assert_eq!(holders, expected);

    // Unlinking removes the link only; the identity stays.
    let unlinked = app.signed(Method::DELETE, &linking).send().await;
    assert_eq!(unlinked.status(), 204);
    let again = app.signed(Method::DELETE, &linking).send().await;
    assert_error(again, 404, "IdentityNotLinked").await;
    let identity = app
        .signed(Method::GET, &identity_path(&alice_first, ""))
        .send()
        .await;
    assert_eq!(identity.status(), 200);

    // A made-up identity cannot be linked.
    let ghost = format!("8:acs:{}", "x");
    let response = app
        .post(&user_path(
            &bob,
            &format!("/identities/{}", encoded(&ghost)),
        ))
        .send()
        .await;
    assert_error(response, 400, "InvalidIdentity").await;
}

async fn erasure_deletes_sole_identities_keeps_shared_ones_and_ends_sessions(app: TestApp) {
    let (carol, carol_own, carol_refresh) = user(&app, "carol").await;
    let (dave, _, _) = user(&app, "dave").await;
    let shared =
        body(app.post(&user_path(&carol, "/identities")).send().await).await["communicationUserId"]
            .as_str()
            .unwrap()
            .to_owned();
    let link = user_path(&dave, &format!("/identities/{}", encoded(&shared)));
    assert_eq!(app.post(&link).send().await.status(), 201);
    let own_token = app.token_for(&carol_own).await;
    let shared_token = app.token_for(&shared).await;

    let erased = app
        .signed(Method::DELETE, &user_path(&carol, ""))
        .send()
        .await;
    assert_eq!(erased.status(), 204);

    // Carol's own identity is gone with its tokens; the shared one stays Dave's, with its tokens.
    let gone = app
        .signed(Method::GET, &identity_path(&carol_own, ""))
        .send()
        .await;
    assert_error(gone, 404, "IdentityNotFound").await;
    assert!(!app.is_active(&own_token).await);
    assert!(app.is_active(&shared_token).await);
    let dave_view = body(app.signed(Method::GET, &user_path(&dave, "")).send().await).await;
    assert!(
        dave_view["identities"]
            .as_array()
            .unwrap()
            .contains(&shared.clone().into())
    );

    // Her sessions and account are gone: refresh fails, sign-in fails, the name is free again.
    assert_error(
        app.refresh(&carol_refresh).await,
        401,
        "InvalidRefreshToken",
    )
    .await;
    assert_error(
        app.sign_in("carol", PASSWORD).await,
        401,
        "InvalidCredentials",
    )
    .await;
    let again = app
        .signed(Method::DELETE, &user_path(&carol, ""))
        .send()
        .await;
    assert_error(again, 404, "UserNotFound").await;
    assert_eq!(app.create_account("carol", PASSWORD).await.status(), 201);
}

async fn bad_user_ids_and_unknown_users_are_clear_4xx(app: TestApp) {
    let bad = app
        .signed(Method::GET, &user_path("not-a-uuid", ""))
        .send()
        .await;
    assert_error(bad, 400, "InvalidUserId").await;
    let unknown = app
        .signed(
            Method::GET,
            &user_path("6d0c2f3e-0000-4000-8000-000000000001", ""),
        )
        .send()
        .await;
    assert_error(unknown, 404, "UserNotFound").await;
    let unsigned = app
        .client
        .get(format!(
            "{}{}",
            app.base,
            user_path("6d0c2f3e-0000-4000-8000-000000000001", "")
        ))
        .send()
        .await
        .unwrap();
    assert_error(unsigned, 401, "Denied").await;
}
