//! Organisation users: a token from the organisation's OpenID Connect provider, exchanged for a
//! communication token of `8:orgid:<objectId>` through ACS's Teams-user exchange, by both
//! official SDKs unchanged, with each refusal ACS answers; the identity it creates is like any
//! other (revocable, deletable, audited, in revocation events).

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app_client::{encoded, user_path};
use crate::helpers::*;
use crate::idp::{EC_KID, LocalIdp};
use crate::ssf_receiver::{SESSION_REVOKED, Transmitter, event_of};

backend_tests!(
    both_sdks_exchange_an_org_users_token_and_hear_each_refusal,
    an_exchanged_token_lives_no_longer_than_the_presented_one_nor_a_day,
    an_org_users_identity_is_revocable_deletable_audited_and_signalled,
    the_exchange_is_off_without_an_organisation_provider,
);

/// What Entra ID puts in `aud` for the ACS Teams scopes (Callsign's default audience).
const AUDIENCE: &str = "https://auth.msft.communication.azure.com";
const APP: &str = "2c3e1e83-0000-4000-8000-0000000000aa";
const OTHER_APP: &str = "9f0f0f0f-0000-4000-8000-0000000000bb";
const USER: &str = "32c0a5db-1111-4111-8111-111111111111";
const OTHER_USER: &str = "44444444-4444-4444-8444-444444444444";

/// Restarts `app` exchanging the local provider's users' tokens issued to [`APP`].
async fn with_org_idp(app: TestApp, extra: &[&str]) -> (TestApp, LocalIdp) {
    let idp = LocalIdp::start().await;
    let mut args = vec!["--org-oidc-issuer", &idp.issuer, "--org-client-ids", APP];
    args.extend_from_slice(extra);
    let app = app.restart_with(&args).await;
    (app, idp)
}

/// An Entra ID-shaped (v1) delegated token of [`USER`] for [`APP`], living `secs`, with
/// `changes` laid over it (`null` removes a claim).
fn org_claims(idp: &LocalIdp, secs: i64, changes: Value) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = json!({
        "iss": idp.issuer, "aud": AUDIENCE, "sub": "pairwise-subject-1",
        "iat": now, "nbf": now, "exp": now + secs,
        "oid": USER, "appid": APP, "scp": "Teams.ManageCalls Teams.ManageChats",
    });
    let object = claims.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => object.remove(name),
            value => object.insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn org_token(idp: &LocalIdp, secs: i64, changes: Value) -> String {
    idp.sign(
        Algorithm::ES256,
        Some(EC_KID),
        &org_claims(idp, secs, changes),
    )
}

async fn exchange(app: &TestApp, token: &str, app_id: &str, user_id: &str) -> reqwest::Response {
    app.post(&format!("/teamsUser/:exchangeAccessToken?{API}"))
        .json(&json!({ "token": token, "appId": app_id, "userId": user_id }))
        .send()
        .await
}

async fn exchanged(app: &TestApp, token: &str) -> Value {
    let response = exchange(app, token, APP, USER).await;
    assert_eq!(response.status(), 200);
    body(response).await
}

fn refusal(name: &str, token: &str, app_id: &str, user_id: &str, status: u16, code: &str) -> Value {
    json!({"name": name, "token": token, "appId": app_id, "userId": user_id,
           "status": status, "code": code})
}

async fn both_sdks_exchange_an_org_users_token_and_hear_each_refusal(app: TestApp) {
    let (app, idp) = with_org_idp(app, &[]).await;
    // A provider Callsign does not trust, claiming to be the configured one.
    let impostor = LocalIdp::start().await;
    let forged = impostor.sign(
        Algorithm::ES256,
        Some(EC_KID),
        &org_claims(&idp, 3600, json!({})),
    );
    let valid = org_token(&idp, 3600, json!({}));
    let other_apps = org_token(&idp, 3600, json!({"appid": OTHER_APP}));
    let cases = json!({
        "appId": APP,
        "userId": USER,
        "valid": valid,
        "refusals": [
            refusal("wrong audience", &org_token(&idp, 3600, json!({"aud": "https://graph.microsoft.com"})), APP, USER, 401, "InvalidAccessToken"),
            refusal("expired", &org_token(&idp, -120, json!({"iat": null, "nbf": null})), APP, USER, 401, "InvalidAccessToken"),
            refusal("missing scope", &org_token(&idp, 3600, json!({"scp": "Teams.ManageCalls"})), APP, USER, 401, "InvalidAccessToken"),
            refusal("unknown signer", &forged, APP, USER, 401, "InvalidAccessToken"),
            refusal("garbage", "not-a-token", APP, USER, 401, "InvalidAccessToken"),
            refusal("no token", "", APP, USER, 401, "InvalidAccessToken"),
            refusal("no app", &valid, "", USER, 400, "ValidationError"),
            refusal("wrong app", &valid, OTHER_APP, USER, 400, "ValidationError"),
            refusal("app not allowed", &other_apps, OTHER_APP, USER, 400, "ValidationError"),
            refusal("wrong user", &valid, APP, OTHER_USER, 400, "ValidationError"),
            refusal("user id not an object id", &valid, APP, "alice", 400, "ValidationError"),
        ],
    })
    .to_string();

    let mut tokens = Vec::new();
    if let Some(python) = required_env(
        "CALLSIGN_TEST_PYTHON",
        "./scripts/test makes the venv and sets it",
    ) {
        let output = tokio::process::Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/sdk/teams_python.py"
            ))
            .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
            .env("REQUESTS_CA_BUNDLE", &app.trust_file)
            .env("CALLSIGN_ORG_CASES", &cases)
            .output()
            .await
            .expect("run python");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && log.contains("OK"),
            "Python SDK exchange failed:\n{log}"
        );
        tokens.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    if let Some(node) = required_env(
        "CALLSIGN_TEST_NODE",
        "./scripts/test installs the SDK and sets it",
    ) {
        let output = tokio::process::Command::new(node)
            .arg("teams.mjs")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/js"))
            .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
            .env("NODE_EXTRA_CA_CERTS", &app.trust_file)
            .env("CALLSIGN_ORG_CASES", &cases)
            .output()
            .await
            .expect("run node");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && log.contains("OK"),
            "JS SDK exchange failed:\n{log}"
        );
        tokens.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    for token in tokens {
        let claims = claims(&token);
        assert_eq!(claims["sub"], format!("8:orgid:{USER}"));
        assert_eq!(claims["skypeid"], format!("orgid:{USER}"));
        assert_eq!(claims["acsScope"], "chat,voip");
        let introspected = app.introspect(&token).await;
        assert_eq!(introspected["active"], true, "{introspected}");
    }
}

async fn an_exchanged_token_lives_no_longer_than_the_presented_one_nor_a_day(app: TestApp) {
    // Providers' tokens rarely live a day; allow one that does, to see the cap.
    let (app, idp) = with_org_idp(app, &["--oidc-max-token-lifetime-secs", "200000"]).await;
    for (presented_secs, expected_secs) in [
        (600, 600),
        (45 * 60 + 7, 45 * 60 + 7),
        (30 * 3600, 24 * 3600),
    ] {
        let presented = org_token(&idp, presented_secs, json!({}));
        let presented_exp = claims(&presented)["exp"].as_i64().unwrap();
        let answer = exchanged(&app, &presented).await;
        let token = answer["token"].as_str().unwrap();
        let exp = claims(token)["exp"].as_i64().unwrap();
        let lifetime = exp - claims(token)["iat"].as_i64().unwrap();
        assert!(exp <= presented_exp, "{exp} > {presented_exp}");
        assert!(
            (expected_secs - 2..=expected_secs).contains(&lifetime),
            "{presented_secs}: {lifetime}"
        );
        let expires_on = time::OffsetDateTime::parse(
            answer["expiresOn"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(expires_on.unix_timestamp(), exp);
    }
}

async fn an_org_users_identity_is_revocable_deletable_audited_and_signalled(app: TestApp) {
    let (app, idp) = with_org_idp(app, &[]).await;
    let raw = format!("8:orgid:{USER}");
    let transmitter = Transmitter::discover(&app).await;
    let (stream, poll_path) = transmitter.poll_stream(&app, &[SESSION_REVOKED]).await;

    // The first exchange creates the identity; a second reuses it.
    let first = exchanged(&app, &org_token(&idp, 3600, json!({}))).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = exchanged(&app, &org_token(&idp, 3600, json!({}))).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = app
        .signed(Method::GET, &identity_path(&raw, ""))
        .send()
        .await;
    assert_eq!(identity.status(), 200);
    assert_eq!(body(identity).await["id"], raw);
    let events = app
        .audit_events(&format!("identity={}", encoded(&raw)), 3)
        .await;
    let actions = crate::audit::actions(&events);
    assert_eq!(
        actions.iter().filter(|a| **a == "identity.created").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "token.issued").count(),
        2,
        "{actions:?}"
    );

    // Its tokens come only from the exchange: not by name, and no app user may hold it.
    let by_name = app.issue(&raw, json!({"scopes": ["chat"]})).await;
    assert_error(by_name, 400, "InvalidIdentity").await;
    let session = app.new_session("ava").await;
    let user = session["user"]["id"].as_str().unwrap();
    let link = app
        .post(&user_path(user, &format!("/identities/{}", encoded(&raw))))
        .send()
        .await;
    assert_error(link, 400, "InvalidIdentity").await;

    // Revoked like any identity: both tokens die at once, and receivers hear of it.
    assert_eq!(app.revoke(&raw).await.status(), 204);
    assert!(!app.is_active(&first).await);
    assert!(!app.is_active(&second).await);
    let sets = transmitter
        .collect(&app, &poll_path, &stream, 1, Duration::from_secs(10))
        .await;
    assert!(
        sets.iter().any(|set| event_of(set).0 == SESSION_REVOKED
            && set["sub_id"] == transmitter.identity_subject(&raw)),
        "{sets:?}"
    );
    let after = exchanged(&app, &org_token(&idp, 3600, json!({}))).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.is_active(&after).await);

    // Deleted: its tokens die, and it stays deleted until they would all have expired.
    let deleted = app
        .signed(Method::DELETE, &identity_path(&raw, ""))
        .send()
        .await;
    assert_eq!(deleted.status(), 204);
    assert!(!app.is_active(&after).await);
    let again = exchange(&app, &org_token(&idp, 3600, json!({})), APP, USER).await;
    assert_error(again, 403, "IdentityDeleted").await;
}

async fn the_exchange_is_off_without_an_organisation_provider(app: TestApp) {
    let response = exchange(&app, "x", APP, USER).await;
    let message = assert_error(response, 400, "TeamsUserExchangeNotSupported").await;
    assert!(message.contains("CALLSIGN_ORG_OIDC_ISSUER"), "{message}");
}
