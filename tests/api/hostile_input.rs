//! Bad input gets a clear 4xx in the ACS error shape, never a 500.

use serde_json::json;

use crate::helpers::*;

backend_tests!(
    malformed_json_and_wrong_types_are_400,
    wrong_content_type_is_415,
    huge_body_is_413,
    ids_that_are_not_ours_are_400_or_404,
    external_ids_with_nul_or_too_long_are_400,
    missing_or_bad_api_version_is_400,
    unknown_routes_and_methods_get_acs_errors,
);

async fn malformed_json_and_wrong_types_are_400(app: TestApp) {
    let path = format!("/identities?{API}");
    for raw in [
        "{",
        "[]",
        "null",
        r#"{"createTokenWithScopes": "chat"}"#,
        r#"{"createTokenWithScopes": ["chat"], "expiresInMinutes": "60"}"#,
        r#"{"createTokenWithScopes": ["chat"], "expiresInMinutes": 60.5}"#,
        r#"{"createTokenWithScopes": ["chat"], "expiresInMinutes": 99999999999999999999999}"#,
        r#"{"externalId": 5}"#,
        "\u{0}",
    ] {
        let response = app.post(&path).raw_body(raw).send().await;
        assert_error(response, 400, "InvalidRequestBody").await;
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app.post(&path).raw_body(deep).send().await;
    assert_error(response, 400, "InvalidRequestBody").await;
}

async fn wrong_content_type_is_415(app: TestApp) {
    let response = app
        .post(&format!("/identities?{API}"))
        .raw_body(r#"{"createTokenWithScopes":["chat"]}"#)
        .content_type(Some("text/plain"))
        .send()
        .await;
    assert_error(response, 415, "UnsupportedMediaType").await;
}

async fn huge_body_is_413(app: TestApp) {
    let huge = format!(r#"{{"externalId":"{}"}}"#, "a".repeat(1024 * 1024));
    let response = app
        .post(&format!("/identities?{API}"))
        .raw_body(huge)
        .send()
        .await;
    assert_error(response, 413, "RequestEntityTooLarge").await;
}

async fn ids_that_are_not_ours_are_400_or_404(app: TestApp) {
    let uuid = uuid::Uuid::new_v4();
    let cases = [
        (
            format!("8:acs:someone-else_{uuid}"),
            404,
            "IdentityNotFound",
        ),
        (
            format!("8:acs:{}_{uuid}", app_resource(&app).await),
            404,
            "IdentityNotFound",
        ),
        (
            "1; DROP TABLE identities".to_owned(),
            400,
            "InvalidIdentity",
        ),
        ("' OR '1'='1".to_owned(), 400, "InvalidIdentity"),
        ("8:acs:ünï_cödé".to_owned(), 400, "InvalidIdentity"),
        ("8:acs:x_\u{0}".to_owned(), 400, "InvalidIdentity"),
        ("a".repeat(4000), 400, "InvalidIdentity"),
    ];
    for (id, status, code) in cases {
        let issue = app.issue(&id, json!({ "scopes": ["chat"] })).await;
        assert_error(issue, status, code).await;
        let get = app
            .signed(reqwest::Method::GET, &identity_path(&id, ""))
            .send()
            .await;
        assert_error(get, status, code).await;
        let delete = app
            .signed(reqwest::Method::DELETE, &identity_path(&id, ""))
            .send()
            .await;
        assert_error(delete, status, code).await;
        assert_error(app.revoke(&id).await, status, code).await;
    }
}

/// The resource id of the app, read from an identity it made.
async fn app_resource(app: &TestApp) -> String {
    let id = app.create_identity().await;
    let rest = id.strip_prefix("8:acs:").unwrap();
    rest.rsplit_once('_').unwrap().0.to_owned()
}

async fn external_ids_with_nul_or_too_long_are_400(app: TestApp) {
    for external_id in ["a\u{0}b", "", &"x".repeat(257), "line\nbreak"] {
        let response = app
            .post("/identities?api-version=2025-04-01-preview")
            .json(&json!({ "externalId": external_id }))
            .send()
            .await;
        assert_error(response, 400, "InvalidExternalId").await;
    }
    let sql = app
        .post("/identities?api-version=2025-04-01-preview")
        .json(&json!({ "externalId": "'); DROP TABLE identities; --" }))
        .send()
        .await;
    assert_eq!(sql.status(), 201);
    assert_eq!(
        app.post(&format!("/identities?{API}"))
            .send()
            .await
            .status(),
        201
    );
}

async fn missing_or_bad_api_version_is_400(app: TestApp) {
    let missing = app.post("/identities").send().await;
    assert_error(missing, 400, "MissingApiVersionParameter").await;
    let bad = app.post("/identities?api-version=yesterday").send().await;
    assert_error(bad, 400, "UnsupportedApiVersion").await;
    let newer = app.post("/identities?api-version=2031-01-01").send().await;
    assert_eq!(newer.status(), 201, "newer versions are served");
}

async fn unknown_routes_and_methods_get_acs_errors(app: TestApp) {
    let response = app.post(&format!("/nope?{API}")).send().await;
    assert_error(response, 404, "NotFound").await;
    let id = app.create_identity().await;
    let action = app.post(&identity_path(&id, "/:explode")).send().await;
    assert_error(action, 404, "NotFound").await;
    let method = app
        .signed(reqwest::Method::PUT, &format!("/identities?{API}"))
        .send()
        .await;
    assert_error(method, 405, "MethodNotAllowed").await;
}
