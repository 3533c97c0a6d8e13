//! Identity life cycle: create, get, external ids, delete.

use serde_json::json;

use crate::helpers::*;

backend_tests!(
    create_returns_201_and_an_acs_identity_id,
    create_with_scopes_returns_a_token_whose_expiry_is_its_exp_claim,
    create_with_external_id_is_idempotent,
    get_reports_external_id_and_last_token_issued_at,
    deleted_identity_gets_no_token_and_is_gone,
    concurrent_creates_are_each_stored_before_they_are_answered,
);

async fn create_returns_201_and_an_acs_identity_id(app: TestApp) {
    let response = app.post(&format!("/identities?{API}")).send().await;
    assert_eq!(response.status(), 201);
    let body = body(response).await;
    let id = body["identity"]["id"].as_str().unwrap();
    assert!(id.starts_with("8:acs:"), "{id}");
    assert!(
        body.get("accessToken").is_none(),
        "no token unless asked: {body}"
    );
    let other = app.create_identity().await;
    assert_ne!(id, other);
}

async fn create_with_scopes_returns_a_token_whose_expiry_is_its_exp_claim(app: TestApp) {
    let response = app
        .post(&format!("/identities?{API}"))
        .json(&json!({ "createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60 }))
        .send()
        .await;
    assert_eq!(response.status(), 201);
    let body = body(response).await;
    let token = body["accessToken"]["token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["sub"], body["identity"]["id"]);
    assert_eq!(claims["acsScope"], "chat,voip");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let expires_on = time::OffsetDateTime::parse(
        body["accessToken"]["expiresOn"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_on.unix_timestamp(), claims["exp"].as_i64().unwrap());
    assert!(app.is_active(token).await);
}

async fn create_with_external_id_is_idempotent(app: TestApp) {
    let path = "/identities?api-version=2025-04-01-preview";
    let create = || {
        app.post(path)
            .json(&json!({ "externalId": "sally@contoso.com" }))
            .send()
    };
    let first = create().await;
    assert_eq!(first.status(), 201);
    let first = body(first).await;
    let again = create().await;
    assert_eq!(again.status(), 200);
    let again = body(again).await;
    assert_eq!(first["identity"]["id"], again["identity"]["id"]);
    assert_eq!(again["identity"]["externalId"], "sally@contoso.com");

    let other = app
        .post(path)
        .json(&json!({ "externalId": "bob@contoso.com" }))
        .send()
        .await;
    assert_eq!(other.status(), 201);
    assert_ne!(body(other).await["identity"]["id"], first["identity"]["id"]);
}

async fn get_reports_external_id_and_last_token_issued_at(app: TestApp) {
    let created = app
        .post("/identities?api-version=2025-04-01-preview")
        .json(&json!({ "externalId": "zoë-👋" }))
        .send()
        .await;
    let id = body(created).await["identity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = || {
        app.signed(reqwest::Method::GET, &identity_path(&id, ""))
            .send()
    };

    let before = body(get().await).await;
    assert_eq!(before["id"], id.as_str());
    assert_eq!(before["externalId"], "zoë-👋");
    assert!(before.get("lastTokenIssuedAt").is_none(), "{before}");

    app.token_for(&id).await;
    let after = body(get().await).await;
    let last = after["lastTokenIssuedAt"]
        .as_str()
        .expect("lastTokenIssuedAt after a token");
    let last =
        time::OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        (time::OffsetDateTime::now_utc() - last)
            .whole_seconds()
            .abs()
            < 30
    );
}

async fn deleted_identity_gets_no_token_and_is_gone(app: TestApp) {
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    assert!(app.is_active(&token).await);

    let delete = || {
        app.signed(reqwest::Method::DELETE, &identity_path(&id, ""))
            .send()
    };
    assert_eq!(delete().await.status(), 204);

    assert!(!app.is_active(&token).await, "old tokens are dead");
    assert_error(
        app.issue(&id, json!({ "scopes": ["chat"] })).await,
        404,
        "IdentityNotFound",
    )
    .await;
    let get = app
        .signed(reqwest::Method::GET, &identity_path(&id, ""))
        .send()
        .await;
    assert_error(get, 404, "IdentityNotFound").await;
    assert_error(app.revoke(&id).await, 404, "IdentityNotFound").await;
    assert_error(delete().await, 404, "IdentityNotFound").await;
}

/// Creates that arrive together are written together: each is answered with an identity of its
/// own that is already stored, so it can be read and given a token at once.
async fn concurrent_creates_are_each_stored_before_they_are_answered(app: TestApp) {
    let ids = futures_util::future::join_all((0..48).map(|_| app.create_identity())).await;
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every create has its own identity"
    );
    for id in &ids {
        let get = app
            .signed(reqwest::Method::GET, &identity_path(id, ""))
            .send()
            .await;
        assert_eq!(get.status(), 200, "{id} is stored once answered");
    }
    assert_eq!(
        app.issue(&ids[17], json!({ "scopes": ["voip"] }))
            .await
            .status(),
        200
    );
}
