//! Backends without a shared secret: the organisation's identity provider vouches for them with
//! client-credentials bearer tokens, admitted by client id or role; key administration needs an
//! admin role.

use jsonwebtoken::{Algorithm, Header};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::idp::{AUDIENCE, EC_KID, LocalIdp};

backend_tests!(
    allowed_clients_and_roles_use_the_acs_api_with_a_bearer,
    unauthorised_clients_get_403_and_bad_tokens_401,
    key_administration_needs_an_admin_role,
    a_request_with_both_a_signature_and_a_bearer_is_refused,
    cached_keys_keep_backends_working_while_the_provider_is_down,
    bearers_are_refused_when_no_backend_provider_is_configured,
    only_a_clients_own_token_is_admitted,
    backend_bearers_are_verified_as_access_tokens_too,
);

/// Restarts `app` admitting the local provider's `backend-allowed` client, the
/// `Callsign.Backend` role, and `Callsign.Admin` for key administration.
pub async fn with_backend_idp(app: TestApp) -> (TestApp, LocalIdp) {
    let idp = LocalIdp::start().await;
    let app = app
        .restart_with(&[
            "--backend-oidc-issuer",
            &idp.issuer,
            "--backend-clients",
            "backend-allowed",
            "--backend-roles",
            "Callsign.Backend",
            "--admin-roles",
            "Callsign.Admin",
            "--key-admin",
            "api",
        ])
        .await;
    (app, idp)
}

async fn allowed_clients_and_roles_use_the_acs_api_with_a_bearer(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    for (client, roles) in [
        ("backend-allowed", vec![]),
        ("backend-by-role", vec!["Callsign.Backend"]),
    ] {
        let bearer = idp.client_token(client, &roles);
        let created = app
            .bearer(Method::POST, &format!("/identities?{API}"), &bearer)
            .json(&json!({ "createTokenWithScopes": ["chat"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{client}");
        let created = body(created).await;
        let id = created["identity"]["id"].as_str().unwrap().to_owned();
        let first = created["accessToken"]["token"].as_str().unwrap().to_owned();
        // Signed by the primary slot's key, as tokens for the primary access key are.
        assert_eq!(header_kid(&first), header_kid(&app.token_for(&id).await));

        let issued = app
            .bearer(
                Method::POST,
                &identity_path(&id, "/:issueAccessToken"),
                &bearer,
            )
            .json(&json!({ "scopes": ["voip"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(issued.status(), 200);
        let token = body(issued).await["token"].as_str().unwrap().to_owned();
        let introspected = app
            .bearer(Method::POST, "/tokens/:introspect", &bearer)
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(body(introspected).await["active"], true);

        let revoked = app
            .bearer(
                Method::POST,
                &identity_path(&id, "/:revokeAccessTokens"),
                &bearer,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 204);
        assert!(!app.is_active(&token).await);
        let deleted = app
            .bearer(Method::DELETE, &identity_path(&id, ""), &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
    }
}

async fn unauthorised_clients_get_403_and_bad_tokens_401(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    let create = |token: String| {
        app.bearer(Method::POST, &format!("/identities?{API}"), &token)
            .send()
    };
    let stranger = create(idp.client_token("stranger", &["Reader"]))
        .await
        .unwrap();
    assert_error(stranger, 403, "Forbidden").await;

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = serde_json::from_slice::<serde_json::Value>(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            idp.client_token("backend-allowed", &[])
                .split('.')
                .nth(1)
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut claims = base.clone();
        claims[field] = value;
        idp.sign(Algorithm::ES256, Some(EC_KID), &claims)
    };
    let cases = [
        ("wrong issuer", with("iss", json!("https://evil.example"))),
        ("the app users' audience", with("aud", json!(AUDIENCE))),
        ("expired", with("exp", json!(now - 120))),
        ("alg none", idp.unsigned("backend-allowed")),
        (
            "HS256 with the public key",
            idp.sign(Algorithm::HS256, Some(EC_KID), &base),
        ),
        (
            "unknown kid",
            idp.sign(Algorithm::ES256, Some("other"), &base),
        ),
    ];
    for (case, token) in cases {
        let response = create(token).await.unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        assert_error(response, 401, "Denied").await;
    }
}

async fn key_administration_needs_an_admin_role(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    let backend = idp.client_token("backend-allowed", &[]);
    let listed = app
        .bearer(Method::GET, "/keys", &backend)
        .send()
        .await
        .unwrap();
    assert_error(listed, 403, "Forbidden").await;
    let regenerate = app
        .bearer(Method::POST, "/keys/:regenerate", &backend)
        .json(&json!({ "keyType": "Secondary" }))
        .send()
        .await
        .unwrap();
    assert_error(regenerate, 403, "Forbidden").await;

    let admin = idp.client_token("backend-admin", &["Callsign.Admin"]);
    let listed = app
        .bearer(Method::GET, "/keys", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let regenerated = app
        .bearer(Method::POST, "/keys/:regenerate", &admin)
        .json(&json!({ "keyType": "Secondary" }))
        .send()
        .await
        .unwrap();
    assert_eq!(regenerated.status(), 200);
    let keys = body(regenerated).await;
    let secondary = keys["secondaryKey"]
        .as_str()
        .expect("the new secondary key");
    assert_ne!(secondary, app.settings.secondary_key);
}

async fn a_request_with_both_a_signature_and_a_bearer_is_refused(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    let bearer = idp.client_token("backend-allowed", &[]);
    let both = app
        .post(&format!("/identities?{API}"))
        .with_bearer(&bearer)
        .send()
        .await;
    assert_error(both, 401, "Denied").await;
    let marked = app
        .bearer(Method::POST, &format!("/identities?{API}"), &bearer)
        .header(
            "x-ms-content-sha256",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        )
        .send()
        .await
        .unwrap();
    assert_error(marked, 401, "Denied").await;
}

async fn cached_keys_keep_backends_working_while_the_provider_is_down(app: TestApp) {
    let (app, mut idp) = with_backend_idp(app).await;
    let bearer = idp.client_token("backend-allowed", &[]);
    idp.stop().await;
    let created = app
        .bearer(Method::POST, &format!("/identities?{API}"), &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

async fn bearers_are_refused_when_no_backend_provider_is_configured(app: TestApp) {
    let idp = LocalIdp::start().await;
    let bearer = idp.client_token("backend-allowed", &[]);
    let response = app
        .bearer(Method::POST, &format!("/identities?{API}"), &bearer)
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "Denied").await;
}

/// A token must be a client's own, and name its client plainly: one naming no client (its `sub`
/// would name a user), one whose client claim is not a string, a delegated user token (Entra
/// ID's `scp`) and a user's token bearing no mark of a client's own (Keycloak's, Auth0's) are
/// invalid tokens (401) even when an allowed client or role is in them. Options
/// relax the first and the last for providers that need it.
async fn only_a_clients_own_token_is_admitted(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    let allowed = |changes: serde_json::Value| {
        let mut claims = idp.client_claims("backend-allowed", &["Callsign.Backend"]);
        for (name, value) in changes.as_object().unwrap() {
            match value {
                serde_json::Value::Null => drop(claims.as_object_mut().unwrap().remove(name)),
                value => claims[name] = value.clone(),
            }
        }
        idp.sign(Algorithm::ES256, Some(EC_KID), &claims)
    };
    let no_client = allowed(json!({ "azp": null }));
    let delegated = allowed(json!({ "scp": "user_impersonation", "sub": "user-42" }));
    let user_typed = allowed(json!({ "idtyp": "user" }));
    // A user's token through the allowed client as Keycloak or Auth0 issue it: no mark of a
    // user, and none of a client's own token (its subject is the user).
    let unmarked_user = allowed(json!({ "sub": "user-42", "scope": "openid", "sid": "s-1" }));
    let cases = [
        ("no client claim, only sub", no_client.clone()),
        (
            "azp not a string",
            allowed(json!({ "azp": ["backend-allowed"], "appid": "backend-allowed" })),
        ),
        ("azp empty", allowed(json!({ "azp": "" }))),
        (
            "client claims disagree",
            allowed(json!({ "azp": "stranger", "appid": "backend-allowed" })),
        ),
        ("delegated (scp)", delegated.clone()),
        ("idtyp user", user_typed.clone()),
        ("a user's token without marks", unmarked_user.clone()),
    ];
    let create = |app: &TestApp, token: &str| {
        app.bearer(Method::POST, &format!("/identities?{API}"), token)
            .send()
    };
    for (case, token) in &cases {
        let response = create(&app, token).await.unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        assert_error(response, 401, "Denied").await;
    }
    let app_token = allowed(json!({ "idtyp": "app" }));
    assert_eq!(create(&app, &app_token).await.unwrap().status(), 201);

    let app = app
        .restart_with(&[
            "--backend-oidc-issuer",
            &idp.issuer,
            "--backend-clients",
            "backend-allowed",
            "--backend-client-id-from-sub",
            "on",
            "--backend-app-only",
            "off",
        ])
        .await;
    for token in [&no_client, &delegated, &user_typed, &unmarked_user] {
        assert_eq!(create(&app, token).await.unwrap().status(), 201);
    }
    // Malformed client claims stay refused whatever the options.
    let (case, malformed) = &cases[1];
    assert_eq!(
        create(&app, malformed).await.unwrap().status(),
        401,
        "{case}"
    );
}

/// Backends' tokens go through the same verifier as app users': a critical header extension, a
/// type that is not an access token's, or a lifetime over the cap is refused.
async fn backend_bearers_are_verified_as_access_tokens_too(app: TestApp) {
    let (app, idp) = with_backend_idp(app).await;
    let claims = idp.client_claims("backend-allowed", &[]);
    let mut critical = Header::new(Algorithm::ES256);
    critical.crit = Some(vec!["exp".to_owned()]);
    let mut logout = Header::new(Algorithm::ES256);
    logout.typ = Some("logout+jwt".to_owned());
    let mut long_lived = claims.clone();
    long_lived["exp"] = json!(claims["iat"].as_i64().unwrap() + 2 * 86_400);
    let cases = [
        ("crit", idp.sign_with_header(critical, &claims)),
        ("logout token", idp.sign_with_header(logout, &claims)),
        (
            "two days",
            idp.sign(Algorithm::ES256, Some(EC_KID), &long_lived),
        ),
    ];
    for (case, token) in cases {
        let response = app
            .bearer(Method::POST, &format!("/identities?{API}"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_error(response, 401, "Denied").await;
    }
    let mut at = Header::new(Algorithm::ES256);
    at.typ = Some("at+jwt".to_owned());
    let response = app
        .bearer(
            Method::POST,
            &format!("/identities?{API}"),
            &idp.sign_with_header(at, &claims),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// A client id is the provider's to choose, newlines included: the log line that names it
/// escapes it, so it cannot start a forged line of its own. Both the refusal of a stranger and
/// the request log of a client admitted by role are checked.
#[tokio::test]
async fn a_client_id_cannot_forge_a_log_line() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let Some(settings) = ServerSettings::new(Backend::Sqlite, dir.path()).await else {
        return;
    };
    let idp = LocalIdp::start().await;
    let extra = [
        "--backend-oidc-issuer",
        &idp.issuer,
        "--backend-roles",
        "Callsign.Backend",
    ];
    let (app, log) = spawn_process_logging(&settings, dir, &extra, "info").await;
    let forged = "2026-01-01T00:00:00.000000Z  INFO callsign: forged-entry";
    for (roles, status) in [(vec![], 403), (vec!["Callsign.Backend"], 201)] {
        let client = format!("stranger\n{forged}\r\n{forged}");
        let token = idp.client_token(&client, &roles);
        let response = app
            .bearer(Method::POST, &format!("/identities?{API}"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }
    // The request log is written as the response goes out.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("client not allowed"),
        "the refusal is logged: {log}"
    );
    let naming: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("forged-entry"))
        .collect();
    assert!(naming.len() >= 2, "{log}");
    for line in naming {
        assert!(
            line.contains(r"stranger\n2026-01-01"),
            "a line the client id started: {line}"
        );
    }
}
