//! App users of the app's OpenID Connect provider: the `/api/*` routes of the ACS
//! authentication hero samples and `POST /v1/token`, against a local provider.

use jsonwebtoken::{Algorithm, Header};
use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::helpers::*;
use crate::idp::{AUDIENCE, EC_KID, ED_KID, LocalIdp};
use crate::test_logs::record_secrets_in;

backend_tests!(
    hero_routes_work_as_the_samples_call_them,
    concurrent_first_requests_create_one_identity,
    bad_bearers_are_refused_with_a_challenge,
    only_access_tokens_of_bounded_lifetime_are_accepted,
    an_unknown_kid_flood_refetches_the_keys_at_most_once,
    cached_keys_keep_working_while_the_provider_is_down,
    v1_token_takes_scopes_lifetime_and_identity,
    bearer_routes_are_absent_without_a_provider,
    self_erasure_is_limited_per_address,
    a_provider_user_has_no_password_and_disabled_gets_no_token,
);

async fn with_idp(app: TestApp) -> (TestApp, LocalIdp) {
    let idp = LocalIdp::start().await;
    let app = app
        .restart_with(&["--oidc-issuer", &idp.issuer, "--oidc-audience", AUDIENCE])
        .await;
    (app, idp)
}

async fn hero_routes_work_as_the_samples_call_them(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let bearer = idp.token("user-1");

    let none = app
        .bearer(Method::GET, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(none, 404, "IdentityNotFound").await;
    let created = app
        .bearer(Method::POST, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let identity = body(created).await["acsUserIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(identity.starts_with("8:acs:"), "{identity}");
    let existing = app
        .bearer(Method::POST, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(existing.status(), 200);
    assert_eq!(body(existing).await["acsUserIdentity"], identity.as_str());
    let read = app
        .bearer(Method::GET, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(body(read).await["acsUserIdentity"], identity.as_str());

    let response = app
        .bearer(Method::GET, "/api/token", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token = body(response).await;
    assert_eq!(token["user"]["communicationUserId"], identity.as_str());
    let jwt = token["token"].as_str().unwrap();
    let claims = claims(jwt);
    assert_eq!(claims["sub"], identity.as_str());
    assert_eq!(claims["acsScope"], "chat,voip");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    assert!(app.is_active(jwt).await);

    // Another subject of the same provider is another user; an EdDSA token works as well.
    let other = idp.sign(Algorithm::EdDSA, Some(ED_KID), &idp.claims("user-2"));
    let theirs = app
        .bearer(Method::GET, "/api/token", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 201, "an EdDSA token");
    let theirs = body(theirs).await["user"]["communicationUserId"].clone();
    assert!(theirs.is_string(), "{theirs}");
    assert_ne!(theirs, identity.as_str());

    let deleted = app
        .bearer(Method::DELETE, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(!app.is_active(jwt).await);
    let gone = app
        .bearer(Method::GET, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, "IdentityNotFound").await;
    let identity_gone = app
        .signed(Method::GET, &identity_path(&identity, ""))
        .send()
        .await;
    assert_error(identity_gone, 404, "IdentityNotFound").await;
}

async fn concurrent_first_requests_create_one_identity(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let bearer = idp.token("racer");
    let requests = (0..10).map(|i| {
        let method = if i % 2 == 0 {
            Method::POST
        } else {
            Method::GET
        };
        let path = if i % 2 == 0 {
            "/api/user"
        } else {
            "/api/token"
        };
        app.bearer(method, path, &bearer).send()
    });
    let mut identities = Vec::new();
    for response in futures_util::future::join_all(requests).await {
        let response = response.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let body = body(response).await;
        let id = body["acsUserIdentity"]
            .as_str()
            .or(body["user"]["communicationUserId"].as_str())
            .unwrap()
            .to_owned();
        identities.push(id);
    }
    identities.dedup();
    assert_eq!(identities.len(), 1, "{identities:?}");
    // Created once, and audited once, as the app user's.
    let query = format!(
        "identity={}&action=identity.created",
        encoded(&identities[0])
    );
    let created = app.audit_events(&query, 1).await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(created[0]["appUser"].is_string(), "{created:?}");
}

async fn bad_bearers_are_refused_with_a_challenge(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |field: &str, value: serde_json::Value| {
        let mut claims = idp.claims("mallory");
        claims[field] = value;
        idp.sign(Algorithm::ES256, Some(EC_KID), &claims)
    };
    let mut no_sub = idp.claims("mallory");
    no_sub.as_object_mut().unwrap().remove("sub");
    let cases = [
        ("wrong issuer", with("iss", json!("https://evil.example"))),
        ("wrong audience", with("aud", json!("api://someone-else"))),
        ("expired", with("exp", json!(now - 120))),
        ("not yet valid", with("nbf", json!(now + 600))),
        ("no sub", idp.sign(Algorithm::ES256, Some(EC_KID), &no_sub)),
        ("alg none", idp.unsigned("mallory")),
        (
            "HS256 with the public key",
            idp.sign(Algorithm::HS256, Some(EC_KID), &idp.claims("mallory")),
        ),
        (
            "kid not in the JWKS",
            idp.sign(Algorithm::ES256, Some("nope"), &idp.claims("mallory")),
        ),
        (
            "EdDSA under the EC kid",
            idp.sign(Algorithm::EdDSA, Some(EC_KID), &idp.claims("mallory")),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in cases {
        let response = app
            .bearer(Method::GET, "/api/token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{case}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
        assert_error(response, 401, "InvalidToken").await;
    }
    let missing = app
        .client
        .get(format!("{}/api/token", app.base))
        .send()
        .await
        .unwrap();
    assert_error(missing, 401, "InvalidToken").await;
}

/// The header must type the token as an access token and name no critical extension (Callsign
/// understands none), and a token may live at most `CALLSIGN_OIDC_MAX_TOKEN_LIFETIME_SECS`
/// (24 h by default): tokens the provider signs for other purposes, or for days, are refused.
async fn only_access_tokens_of_bounded_lifetime_are_accepted(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let status = |token: String| {
        let request = app.bearer(Method::GET, "/api/token", &token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let typed = |typ: Option<&str>| {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = typ.map(str::to_owned);
        idp.sign_with_header(header, &idp.claims("typed"))
    };
    for typ in [
        None,
        Some("JWT"),
        Some("at+jwt"),
        Some("application/AT+JWT"),
    ] {
        assert_eq!(status(typed(typ)).await, 201, "{typ:?}");
    }
    for typ in ["logout+jwt", "secevent+jwt", "id_token+jwt", "dpop+jwt"] {
        assert_eq!(status(typed(Some(typ))).await, 401, "{typ}");
    }
    let mut critical = Header::new(Algorithm::ES256);
    critical.crit = Some(vec!["exp".to_owned()]);
    assert_eq!(
        status(idp.sign_with_header(critical, &idp.claims("crit"))).await,
        401,
        "crit"
    );

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let lived = |iat: Option<i64>, exp: i64| {
        let mut claims = idp.claims("lived");
        claims["exp"] = json!(exp);
        match iat {
            Some(iat) => claims["iat"] = json!(iat),
            None => drop(claims.as_object_mut().unwrap().remove("iat")),
        }
        idp.sign(Algorithm::ES256, Some(EC_KID), &claims)
    };
    const DAY: i64 = 86_400;
    assert_eq!(status(lived(Some(now - 60), now - 60 + DAY)).await, 201);
    assert_eq!(
        status(lived(Some(now - 60), now + DAY)).await,
        401,
        "a day and a minute"
    );
    assert_eq!(status(lived(None, now + DAY - 60)).await, 201, "no iat");
    assert_eq!(
        status(lived(None, now + 2 * DAY)).await,
        401,
        "no iat, two days left"
    );
    assert_eq!(
        status(lived(Some(now + 600), now + 1200)).await,
        401,
        "issued later"
    );

    // A shorter cap is the configured one.
    let app = app
        .restart_with(&[
            "--oidc-issuer",
            &idp.issuer,
            "--oidc-audience",
            AUDIENCE,
            "--oidc-max-token-lifetime-secs",
            "300",
        ])
        .await;
    let request = app.bearer(Method::GET, "/api/token", &lived(Some(now), now + 600));
    assert_eq!(request.send().await.unwrap().status(), 401);
    let request = app.bearer(Method::GET, "/api/token", &lived(Some(now), now + 300));
    assert_eq!(request.send().await.unwrap().status(), 201);
}

async fn an_unknown_kid_flood_refetches_the_keys_at_most_once(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let before = idp.jwks_fetches();
    assert!(before >= 1, "keys are fetched at start-up");
    let flood = (0..50).map(|i| {
        let token = idp.sign(
            Algorithm::ES256,
            Some(&format!("made-up-{i}")),
            &idp.claims("x"),
        );
        let request = app.bearer(Method::GET, "/api/token", &token);
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(flood).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(
        idp.jwks_fetches() - before <= 1,
        "{} refetches",
        idp.jwks_fetches() - before
    );
}

async fn cached_keys_keep_working_while_the_provider_is_down(app: TestApp) {
    let (app, mut idp) = with_idp(app).await;
    let token = idp.token("steady");
    idp.stop().await;
    let response = app
        .bearer(Method::GET, "/api/token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // An unknown kid now cannot be fetched: still a clean 401.
    let unknown = idp.sign(Algorithm::ES256, Some("rotated"), &idp.claims("steady"));
    let response = app
        .bearer(Method::GET, "/api/token", &unknown)
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "InvalidToken").await;
}

async fn v1_token_takes_scopes_lifetime_and_identity(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let bearer = idp.token("picky");
    let response = app
        .bearer(Method::POST, "/v1/token", &bearer)
        .json(&json!({ "scopes": ["voip"], "expiresInMinutes": 90 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = body(response).await;
    let claims = claims(first["token"].as_str().unwrap());
    assert_eq!(claims["acsScope"], "voip");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        5400
    );
    assert_eq!(claims["sub"], first["communicationUserId"]);

    // A second identity of the user (1:N), chosen by the client.
    let user = body(
        app.signed(
            Method::GET,
            &format!(
                "/v1/identities/{}/users",
                encoded(first["communicationUserId"].as_str().unwrap())
            ),
        )
        .send()
        .await,
    )
    .await["users"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let second =
        body(app.post(&user_path(&user, "/identities")).send().await).await["communicationUserId"]
            .clone();
    let chosen = app
        .bearer(Method::POST, "/v1/token", &bearer)
        .json(&json!({ "identity": second }))
        .send()
        .await
        .unwrap();
    assert_eq!(body(chosen).await["communicationUserId"], second);

    // Someone else's identity, a scope the deployment does not allow, an empty body.
    let stranger = app.create_identity().await;
    let response = app
        .bearer(Method::POST, "/v1/token", &bearer)
        .json(&json!({ "identity": stranger }))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "IdentityNotLinked").await;
    let response = app
        .bearer(Method::POST, "/v1/token", &bearer)
        .json(&json!({ "scopes": ["chat.join"] }))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "ScopeNotAllowed").await;
    let empty = app
        .bearer(Method::POST, "/v1/token", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
}

async fn bearer_routes_are_absent_without_a_provider(app: TestApp) {
    let response = app
        .client
        .get(format!("{}/api/user", app.base))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "NotFound").await;
}

/// A user may erase itself, come back and erase itself again; each erasure briefly holds back
/// the audit trail, so one address gets six a minute.
async fn self_erasure_is_limited_per_address(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let bearer = idp.token("eraser");
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let created = app
            .bearer(Method::POST, "/api/user", &bearer)
            .send()
            .await
            .unwrap();
        // 201 while the last erasure went through; 200 once it was refused.
        assert!(created.status().is_success());
        let erased = app
            .bearer(Method::DELETE, "/api/user", &bearer)
            .send()
            .await
            .unwrap();
        statuses.push(erased.status().as_u16());
    }
    assert_eq!(statuses, [204, 204, 204, 204, 204, 204, 429, 429]);
}

async fn a_provider_user_has_no_password_and_disabled_gets_no_token(app: TestApp) {
    let (app, idp) = with_idp(app).await;
    let bearer = idp.token("user-pat");
    let created = app
        .bearer(Method::POST, "/api/user", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let found = app
        .signed(Method::GET, "/v1/users?oidcSubject=user-pat")
        .send()
        .await;
    let user = body(found).await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let action = |name: &str| {
        app.signed(Method::POST, &user_path(&user, &format!("/{name}")))
            .json(&json!({ "password": "glass-kayak-88" }))
    };

    for name in [":setPassword", ":issuePasswordReset"] {
        assert_error(action(name).send().await, 400, "NotAnAccount").await;
    }
    assert_eq!(action(":disable").send().await.status(), 204);
    let refused = app
        .bearer(Method::GET, "/api/token", &bearer)
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, "UserDisabled").await;
    assert_eq!(action(":enable").send().await.status(), 204);
    let token = app
        .bearer(Method::GET, "/api/token", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 201);
    record_secrets_in(&body(token).await);
}
