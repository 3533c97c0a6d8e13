//! Key administration: listing, and regeneration that kills what the old key minted; the
//! `/keys` routes only where switched on, for the primary key only, each signed request once.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::ssf_receiver::{
    PUSH, RECEIVER_SECRET, Receiver, SESSION_REVOKED, Transmitter, send_json,
};

backend_tests!(
    regenerating_primary_kills_its_tokens_and_keeps_secondary,
    keys_list_shows_connection_strings,
    bad_key_type_is_400,
    rotating_signing_keys_keeps_every_token_alive,
    the_master_key_rotates_without_losing_a_key_or_a_token,
    key_routes_are_not_served_unless_switched_on,
    a_replayed_key_request_is_refused,
    the_secondary_key_cannot_read_or_replace_keys,
);

async fn regenerating_primary_kills_its_tokens_and_keeps_secondary(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    let id = app.create_identity().await;
    let under_primary = app.token_for(&id).await;
    let secondary = app.secondary_key.clone();
    let response = app
        .issue_with_key(&id, json!({ "scopes": ["chat"] }), &secondary)
        .await;
    let under_secondary = body(response).await["token"].as_str().unwrap().to_owned();
    let old_kid = jwt_kid(&under_primary);
    assert_ne!(
        old_kid,
        jwt_kid(&under_secondary),
        "each key signs with its own kid"
    );

    let response = app
        .post("/keys/:regenerate")
        .json(&json!({ "keyType": "Primary" }))
        .send()
        .await;
    assert_eq!(response.status(), 200);
    let keys = body(response).await;
    let new_primary = keys["primaryKey"].as_str().unwrap().to_owned();
    assert_ne!(
        new_primary,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &app.primary_key)
    );

    // Requests: the old primary is refused, the secondary still works.
    let refused = app.post(&format!("/identities?{API}")).send().await;
    assert_error(refused, 401, "Denied").await;
    let secondary_request = app
        .signed(Method::POST, &format!("/identities?{API}"))
        .key(&secondary);
    assert_eq!(secondary_request.send().await.status(), 201);

    // Tokens: the old primary's are dead, the secondary's live.
    assert!(
        !app.is_active_with_key(&under_primary, &secondary).await,
        "minted under the regenerated key"
    );
    assert!(
        app.is_active_with_key(&under_secondary, &secondary).await,
        "minted under the other key"
    );

    // New tokens under the new primary carry a new kid and are active.
    let new_key =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, new_primary).unwrap();
    let response = app
        .issue_with_key(&id, json!({ "scopes": ["chat"] }), &new_key)
        .await;
    let fresh = body(response).await["token"].as_str().unwrap().to_owned();
    assert_ne!(jwt_kid(&fresh), old_kid);
    assert!(app.is_active_with_key(&fresh, &secondary).await);
}

fn jwt_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn keys_list_shows_connection_strings(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    let response = app.signed(Method::GET, "/keys").send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let keys = body(response).await;
    assert_eq!(
        keys["primaryConnectionString"],
        app.connection_string.as_str()
    );
    assert_eq!(keys["secondaryKey"], app.settings.secondary_key.as_str());
}

async fn bad_key_type_is_400(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    let response = app
        .post("/keys/:regenerate")
        .json(&json!({ "keyType": "tertiary" }))
        .send()
        .await;
    assert_error(response, 400, "InvalidKeyType").await;
}

/// `callsign keys rotate-signing` against the running server's database: new tokens get a new
/// `kid`, and tokens signed before keep verifying.
async fn rotating_signing_keys_keeps_every_token_alive(app: TestApp) {
    let id = app.create_identity().await;
    let before = app.token_for(&id).await;
    let old_kid = header_kid(&before);

    let printed = run_cli(&app.settings, &["keys", "rotate-signing"]).await;
    assert!(printed.contains("signing key rotated"), "{printed}");

    // The running server learns of it by notification (PostgreSQL) or resync (SQLite, 1 s here).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let after = loop {
        let token = app.token_for(&id).await;
        if header_kid(&token) != old_kid {
            break token;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never rotated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        app.is_active(&before).await,
        "a rotation must not kill a token"
    );
    assert!(app.is_active(&after).await);
}

/// Master-key rotation: instances run with the new key and the previous one, `callsign keys
/// reseal` re-seals the stored keys under the new one, and from then on the new key alone opens
/// them while the old one opens nothing.
async fn the_master_key_rotates_without_losing_a_key_or_a_token(app: TestApp) {
    use base64::Engine;
    // One public endpoint throughout, so tokens name the same issuer across restarts.
    const ENDPOINT: [&str; 2] = ["--endpoint", "https://callsign.test/"];
    let app = app.restart_with(&ENDPOINT).await;
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    let connection_string = app.connection_string.clone();
    // The event transmitter's secrets are sealed too: its signing key and a receiver's
    // authorization header.
    let transmitter = Transmitter::discover_at(&app, ENDPOINT[1]).await;
    let mut receiver = Receiver::start(0).await;
    let stream = body(
        send_json(
            &app,
            Method::POST,
            &transmitter.path(&app, "configuration_endpoint"),
            &json!({
                "events_requested": [SESSION_REVOKED],
                "delivery": {"method": PUSH, "endpoint_url": receiver.url,
                             "authorization_header": RECEIVER_SECRET},
            }),
        )
        .await,
    )
    .await;
    let old = app.settings.master_key.clone();
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).unwrap();
    let new = base64::engine::general_purpose::STANDARD.encode(fresh);
    let mut settings = app.settings.clone();
    settings.master_key = new.clone();
    let dir = app._dir.clone().expect("an in-process server");
    drop(app);

    // During the change both keys open the stored keys.
    let during = spawn_app_with(
        settings.clone(),
        dir.clone(),
        &[ENDPOINT[0], ENDPOINT[1], "--previous-master-key", &old],
    )
    .await;
    assert!(during.is_active(&token).await);
    let printed = run_cli(
        &settings,
        &["--previous-master-key", &old, "keys", "reseal"],
    )
    .await;
    assert!(printed.contains("re-sealed"));
    drop(during);

    let after = spawn_app_with(settings.clone(), dir.clone(), &ENDPOINT).await;
    assert!(after.is_active(&token).await, "tokens survive the rotation");
    assert_eq!(
        after.connection_string, connection_string,
        "so do the access keys"
    );
    // And the transmitter's: the same key signs, the receiver's header is sent.
    assert_eq!(after.revoke(&id).await.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(set["sub_id"]["sub"], id.as_str());
    drop(after);

    let mut old_only = settings.clone();
    old_only.master_key = old;
    let args = std::iter::once("callsign".to_owned()).chain(old_only.args());
    let cli = <callsign::config::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let refused = callsign::startup::Application::build(&cli.config).await;
    let error = format!(
        "{:#}",
        refused.err().expect("the old master key opens nothing now")
    );
    assert!(error.contains("master key"), "{error}");
}

async fn key_routes_are_not_served_unless_switched_on(app: TestApp) {
    let listed = app.signed(Method::GET, "/keys").send().await;
    assert_error(listed, 404, "NotFound").await;
    let regenerated = app
        .post("/keys/:regenerate")
        .json(&json!({ "keyType": "Primary" }))
        .send()
        .await;
    assert_error(regenerated, 404, "NotFound").await;
    // The command line always administers keys; it prints them only when asked to.
    let printed = run_cli(&app.settings, &["keys", "--show-secrets", "list"]).await;
    assert!(printed.contains(&app.settings.primary_key));
    let printed = run_cli(&app.settings, &["keys", "list"]).await;
    assert!(!printed.contains(&app.settings.primary_key), "{printed}");
    assert!(!printed.contains(&app.settings.secondary_key), "{printed}");
    assert!(printed.contains("--show-secrets"), "{printed}");
}

/// One captured request (a proxy's log, an APM agent) must not become the keys: the same
/// signed request is admitted once, though its date is still within the skew window.
async fn a_replayed_key_request_is_refused(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    let date = http_date(0);
    let list = || app.signed(Method::GET, "/keys").date(date.clone());
    assert_eq!(list().send().await.status(), 200);
    assert_error(list().send().await, 401, "Denied").await;

    // The same signature spelled otherwise (parameter order, header-name case) is the same
    // request.
    let respelled = replay_respelled(&app, &date).await;
    assert_error(respelled, 401, "Denied").await;

    let regenerate = || {
        app.post("/keys/:regenerate")
            .json(&json!({ "keyType": "Secondary" }))
            .date(date.clone())
    };
    let first = regenerate().send().await;
    assert_eq!(first.status(), 200);
    let new_secondary = body(first).await["secondaryKey"].clone();
    assert_error(regenerate().send().await, 401, "Denied").await;
    // The replay changed nothing; a request signed afresh (another date) is admitted.
    let fresh = app.signed(Method::GET, "/keys").date(http_date(-2));
    let keys = body(fresh.send().await).await;
    assert_eq!(keys["secondaryKey"], new_secondary);
}

/// The secondary key, which applications run with while the primary is replaced, can neither
/// read nor replace keys.
async fn the_secondary_key_cannot_read_or_replace_keys(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    let secondary = app.secondary_key.clone();
    let listed = app
        .signed(Method::GET, "/keys")
        .key(&secondary)
        .send()
        .await;
    assert_error(listed, 403, "Forbidden").await;
    for key_type in ["Primary", "Secondary"] {
        let regenerated = app
            .post("/keys/:regenerate")
            .json(&json!({ "keyType": key_type }))
            .key(&secondary)
            .send()
            .await;
        assert_error(regenerated, 403, "Forbidden").await;
    }
    // It still runs the identity API.
    let created = app
        .signed(Method::POST, &format!("/identities?{API}"))
        .key(&secondary)
        .send()
        .await;
    assert_eq!(created.status(), 201);
    let keys = body(app.signed(Method::GET, "/keys").send().await).await;
    assert_eq!(keys["primaryKey"], app.settings.primary_key.as_str());
}

/// `GET /keys` signed at `date` with the primary key, its `Authorization` header spelled with
/// the parameters swapped and the header names in capitals.
async fn replay_respelled(app: &TestApp, date: &str) -> reqwest::Response {
    use callsign::auth::hmac::{content_hash, sign};
    let hash = content_hash(b"");
    let signature = sign(&app.primary_key, "GET", "/keys", date, &app.host, &hash).unwrap();
    app.client
        .get(format!("{}/keys", app.base))
        .header("x-ms-date", date)
        .header("x-ms-content-sha256", hash)
        .header(
            "authorization",
            format!(
                "HMAC-SHA256 Signature={signature}&SignedHeaders=X-MS-DATE;HOST;X-MS-CONTENT-SHA256"
            ),
        )
        .send()
        .await
        .unwrap()
}
