//! Input Callsign used to accept and now refuses, each with a clear ACS-shaped 4xx: a JSON
//! array where an object is expected, unknown fields on Callsign's own routes, a body that is
//! not UTF-8, and an HTTP/2 upload past the body limit.

use serde_json::json;

use crate::app_client::{PASSWORD, user_path};
use crate::helpers::*;

backend_tests!(
    an_array_is_not_an_object,
    unknown_fields_on_callsign_s_own_routes_are_refused,
    unknown_fields_on_the_password_and_own_session_routes_are_refused,
    a_body_that_is_not_utf8_is_refused,
);

/// serde reads a struct from an array of its fields in order: `["alice","…"]` would create an
/// account named `alice`.
async fn an_array_is_not_an_object(app: TestApp) {
    let created = app
        .post("/v1/accounts")
        .raw_body(format!(r#"["arrayed","{PASSWORD}"]"#))
        .send()
        .await;
    assert_error(created, 400, "InvalidRequestBody").await;
    let signed_in = app
        .client
        .post(format!("{}/v1/sessions", app.base))
        .header("content-type", "application/json")
        .body(format!(r#"["arrayed","{PASSWORD}"]"#))
        .send()
        .await
        .unwrap();
    assert_error(signed_in, 400, "InvalidRequestBody").await;
    // Nothing was created: the name is free.
    assert_eq!(app.create_account("arrayed", PASSWORD).await.status(), 201);

    let id = app.create_identity().await;
    let issued = app
        .post(&identity_path(&id, "/:issueAccessToken"))
        .raw_body(r#"[["chat"], 60]"#)
        .send()
        .await;
    assert_error(issued, 400, "InvalidRequestBody").await;
}

/// A typo (`scope` for `scopes`) must not silently get the default scopes.
async fn unknown_fields_on_callsign_s_own_routes_are_refused(app: TestApp) {
    assert_eq!(app.create_account("typist", PASSWORD).await.status(), 201);
    let typo = app
        .public_post(
            "/v1/sessions",
            &json!({ "username": "typist", "password": PASSWORD, "scope": ["voip"] }),
        )
        .await;
    let message = assert_error(typo, 400, "InvalidRequestBody").await;
    assert!(message.contains("scope"), "{message}");
    let session = app.new_session("typist-2").await;
    let refresh_token = session["refreshToken"].as_str().unwrap();
    let typo = app
        .public_post(
            "/v1/sessions/refresh",
            &json!({ "refreshToken": refresh_token, "expiresInMinute": 60 }),
        )
        .await;
    assert_error(typo, 400, "InvalidRequestBody").await;
    assert_eq!(
        app.refresh(refresh_token).await.status(),
        200,
        "a refused request spends nothing"
    );
    let account = app
        .post("/v1/accounts")
        .json(&json!({ "username": "typist-3", "password": PASSWORD, "admin": true }))
        .send()
        .await;
    assert_error(account, 400, "InvalidRequestBody").await;

    // The ACS routes stay as lenient as ACS.
    let created = app
        .post(&format!("/identities?{API}"))
        .json(&json!({ "createTokenWithScopes": ["chat"], "somethingNew": 1 }))
        .send()
        .await;
    assert_eq!(created.status(), 201);
}

/// The password routes and a user's own-session routes too, with everything else in the
/// request good: a refused request spends no reset token, changes no password, ends no session.
async fn unknown_fields_on_the_password_and_own_session_routes_are_refused(app: TestApp) {
    const NEW_PASSWORD: &str = "glass-kayak-88";
    let session = app.new_session("stray").await;
    let user = session["user"]["id"].as_str().unwrap();
    let refresh_token = session["refreshToken"].as_str().unwrap();
    let listed = app
        .public_post(
            "/v1/sessions/mine",
            &json!({ "refreshToken": refresh_token }),
        )
        .await;
    assert_eq!(listed.status(), 200);
    let session_id = body(listed).await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = app
        .post(&user_path(user, "/:issuePasswordReset"))
        .send()
        .await;
    assert_eq!(issued.status(), 201);
    let reset_token = body(issued).await["resetToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let public = [
        (
            "/v1/password-resets",
            json!({ "resetToken": reset_token, "newPassword": NEW_PASSWORD, "username": "stray" }),
            "username",
        ),
        (
            "/v1/sessions/change-password",
            json!({
                "refreshToken": refresh_token,
                "currentPassword": PASSWORD,
                "newPassword": NEW_PASSWORD,
                "signOutOthers": false,
            }),
            "signOutOthers",
        ),
        (
            "/v1/sessions/mine",
            json!({ "refreshToken": refresh_token, "includeEnded": true }),
            "includeEnded",
        ),
        (
            "/v1/sessions/mine/end",
            json!({ "refreshToken": refresh_token, "sessionId": session_id, "reason": "lost" }),
            "reason",
        ),
        (
            "/v1/sessions/mine/end-others",
            json!({ "refreshToken": refresh_token, "keepSessionIds": [session_id] }),
            "keepSessionIds",
        ),
    ];
    for (path, request, unknown) in public {
        let refused = app.public_post(path, &request).await;
        let message = assert_error(refused, 400, "InvalidRequestBody").await;
        assert!(message.contains(unknown), "{path}: {message}");
    }
    let set = app
        .post(&user_path(user, "/:setPassword"))
        .json(&json!({ "password": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD }))
        .send()
        .await;
    let message = assert_error(set, 400, "InvalidRequestBody").await;
    assert!(message.contains("confirmPassword"), "{message}");

    // Nothing was ended, changed or spent.
    let listed = app
        .public_post(
            "/v1/sessions/mine",
            &json!({ "refreshToken": refresh_token }),
        )
        .await;
    assert_eq!(listed.status(), 200);
    assert_eq!(body(listed).await["value"].as_array().unwrap().len(), 1);
    assert_eq!(app.sign_in("stray", PASSWORD).await.status(), 201);
    let redeemed = app
        .public_post(
            "/v1/password-resets",
            &json!({ "resetToken": reset_token, "newPassword": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(redeemed.status(), 204);
}

async fn a_body_that_is_not_utf8_is_refused(app: TestApp) {
    let mut body = br#"{"refreshToken":""#.to_vec();
    body.extend_from_slice(b"\xff\xfe");
    body.extend_from_slice(br#""}"#);
    for path in ["/v1/sessions/refresh", "/v1/sessions/sign-out"] {
        let refused = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_error(refused, 400, "InvalidRequestBody").await;
    }
    // Also where the bytes are in a field an ACS route skips unread.
    let mut ignored = br#"{"somethingNew":"caf"#.to_vec();
    ignored.extend_from_slice(b"\xe9\xff");
    ignored.extend_from_slice(br#""}"#);
    let refused = app
        .post(&format!("/identities?{API}"))
        .raw_body(ignored)
        .send()
        .await;
    assert_error(refused, 400, "InvalidRequestBody").await;
}

/// HTTP/2 gets the same 413 as HTTP/1.1, not a stream error: the server reads (and discards)
/// the rest of an oversized upload, so the client finishes sending and then reads its answer,
/// rather than having its stream reset under it mid-upload (which curl and other clients report
/// as a stream error, not as the 413 that came before it). (HTTP framing: one store is
/// enough; plain HTTP, for an HTTP/2 client without TLS.)
#[tokio::test]
async fn an_http2_upload_past_the_limit_is_413() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_process(&settings, dir, &[]).await;
    for size in [100 * 1024, 600 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024] {
        let (status, answer, uploaded) = h2_upload(&app.host, "/v1/sessions/refresh", size).await;
        assert_eq!(status, 413, "{size} bytes: {answer}");
        assert!(uploaded, "{size} bytes: the stream was reset mid-upload");
        assert!(answer.contains("RequestEntityTooLarge"), "{answer}");
    }
    let healthy = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
}

/// POSTs `size` bytes of JSON over HTTP/2, sending as the server's flow control allows while
/// waiting for the answer; its status and body, and whether the whole upload went out.
async fn h2_upload(host: &str, path: &str, size: usize) -> (u16, String, bool) {
    use axum::body::Bytes;
    let tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = axum::http::Request::post(format!("http://{host}{path}"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut upload) = client.send_request(request, false).unwrap();
    let uploading = tokio::spawn(async move {
        let mut left = size;
        while left > 0 {
            upload.reserve_capacity(left.min(1024 * 1024));
            let granted = match std::future::poll_fn(|cx| upload.poll_capacity(cx)).await {
                Some(Ok(granted)) => granted.min(left),
                _ => return false,
            };
            if upload
                .send_data(Bytes::from(vec![b'{'; granted]), granted == left)
                .is_err()
            {
                return false;
            }
            left -= granted;
        }
        true
    });
    let response = response
        .await
        .unwrap_or_else(|error| panic!("{size} bytes: no answer but {error:?}"));
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap_or_else(|error| panic!("{size} bytes: {error:?}"));
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    let uploaded = uploading.await.unwrap();
    (
        status,
        String::from_utf8_lossy(&text).into_owned(),
        uploaded,
    )
}
