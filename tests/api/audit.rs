//! The audit trail: who did what, when, from where, in which request; read with filters and
//! pages; erasure keeps the rows but not the client address.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app_client::{PASSWORD, encoded, user_path};
use crate::helpers::*;

backend_tests!(
    token_life_cycle_is_audited_with_who_where_and_request,
    deletion_keeps_the_rows_but_clears_the_client_address,
    pages_and_filters,
    bad_queries_are_refused_clearly,
    failed_sign_ins_and_erasure_are_audited_without_the_username,
    the_operator_s_key_changes_are_audited,
    a_client_s_request_id_is_kept_apart_and_only_if_short,
);

impl TestApp {
    pub(crate) async fn audit(&self, query: &str) -> Value {
        let response = self
            .signed(Method::GET, &format!("/v1/audit-events?{query}"))
            .send()
            .await;
        assert_eq!(response.status(), 200);
        body(response).await
    }

    /// The events matching `query` once there are at least `count` (written off the request
    /// path, so they may take a moment).
    pub(crate) async fn audit_events(&self, query: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let events = self.audit(query).await["value"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if events.len() >= count {
                return events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {count} audit events for {query}, got {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(crate) fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn token_life_cycle_is_audited_with_who_where_and_request(app: TestApp) {
    let id = app.create_identity().await;
    let issued = app
        .issue(
            &id,
            json!({ "scopes": ["chat", "voip"], "expiresInMinutes": 60 }),
        )
        .await;
    assert_eq!(issued.status(), 200);
    let request_id = issued.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.revoke(&id).await.status(), 204);

    let events = app
        .audit_events(&format!("identity={}", encoded(&id)), 3)
        .await;
    assert_eq!(
        actions(&events),
        ["tokens.revoked", "token.issued", "identity.created"],
        "newest first"
    );
    let token = &events[1];
    assert_eq!(token["identity"], id.as_str());
    assert_eq!(token["actor"], "accessKey:primary");
    assert_eq!(token["clientAddress"], "127.0.0.1");
    assert_eq!(token["requestId"], request_id.as_str());
    assert_eq!(token["details"]["scopes"], json!(["chat", "voip"]));
    assert_eq!(token["details"]["expiresInMinutes"], 60);
    let at = time::OffsetDateTime::parse(
        token["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((time::OffsetDateTime::now_utc() - at).abs() < time::Duration::minutes(1));

    let by_secondary = app
        .issue_with_key(&id, json!({ "scopes": ["chat"] }), &app.secondary_key)
        .await;
    assert_eq!(by_secondary.status(), 200);
    let events = app
        .audit_events(&format!("identity={}&action=token.issued", encoded(&id)), 2)
        .await;
    assert_eq!(events[0]["actor"], "accessKey:secondary");
}

async fn deletion_keeps_the_rows_but_clears_the_client_address(app: TestApp) {
    let id = app.create_identity().await;
    app.token_for(&id).await;
    let query = format!("identity={}", encoded(&id));
    let before = app.audit_events(&query, 2).await;
    assert!(before.iter().all(|e| e["clientAddress"] == "127.0.0.1"));

    let deleted = app
        .signed(Method::DELETE, &identity_path(&id, ""))
        .send()
        .await;
    assert_eq!(deleted.status(), 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events = app.audit_events(&query, 3).await;
        if events.iter().all(|e| e.get("clientAddress").is_none()) {
            assert_eq!(
                actions(&events),
                ["identity.deleted", "token.issued", "identity.created"]
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pages_and_filters(app: TestApp) {
    for _ in 0..5 {
        app.create_identity().await;
    }
    app.audit_events("action=identity.created", 5).await;
    let mut seen = Vec::new();
    let mut link = Some("/v1/audit-events?action=identity.created&maxPageSize=2".to_owned());
    while let Some(next) = link {
        let response = app.signed(Method::GET, &next).send().await;
        assert_eq!(response.status(), 200);
        let page = body(response).await;
        let events = page["value"].as_array().unwrap();
        assert!(events.len() <= 2);
        seen.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
        link = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5, "every event exactly once: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");

    let past = app
        .audit("action=identity.created&to=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(past["value"], json!([]));
    let future = app
        .audit("action=identity.created&from=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(future["value"].as_array().unwrap().len(), 5);
}

async fn bad_queries_are_refused_clearly(app: TestApp) {
    for query in [
        "action=token.minted",
        "from=yesterday",
        "maxPageSize=0",
        "maxPageSize=100000",
        "continuationToken=abc",
        "appUser=alice",
        "colour=blue",
    ] {
        let response = app
            .signed(Method::GET, &format!("/v1/audit-events?{query}"))
            .send()
            .await;
        assert_error(response, 400, "InvalidQueryParameter").await;
    }
    let foreign = app
        .signed(Method::GET, "/v1/audit-events?identity=8%3Aacs%3Aother_x")
        .send()
        .await;
    assert_eq!(foreign.status(), 400);
    let unsigned = app
        .signed(Method::GET, "/v1/audit-events")
        .unsigned()
        .send()
        .await;
    assert_eq!(unsigned.status(), 401);
}

async fn failed_sign_ins_and_erasure_are_audited_without_the_username(app: TestApp) {
    let created = body(app.create_account("audited-alice", PASSWORD).await).await;
    let user = created["id"].as_str().unwrap().to_owned();
    let failed = app.sign_in("audited-alice", "not the password").await;
    assert_eq!(failed.status(), 401);
    let signed_in = app.sign_in("audited-alice", PASSWORD).await;
    assert!(signed_in.status().is_success());

    let query = format!("appUser={user}");
    let events = app.audit_events(&query, 5).await;
    assert_eq!(
        actions(&events),
        [
            "appUser.signedIn",
            "token.issued",
            "identity.created",
            "appUser.signInFailed",
            "account.created"
        ]
    );
    assert_eq!(events[3]["actor"], "public");
    assert_eq!(events[3]["clientAddress"], "127.0.0.1");
    let everything = app.audit("maxPageSize=1000").await.to_string();
    assert!(
        !everything.contains("audited-alice"),
        "no usernames in the trail"
    );

    let erased = app
        .signed(Method::DELETE, &user_path(&user, ""))
        .send()
        .await;
    assert_eq!(erased.status(), 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events = app.audit_events(&query, 6).await;
        if events[0]["action"] == "appUser.erased"
            && events.iter().all(|e| e.get("clientAddress").is_none())
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_operator_s_key_changes_are_audited(app: TestApp) {
    let app = app.restart_with(&KEY_ADMIN_API).await;
    run_cli(&app.settings, &["keys", "rotate-signing", "secondary"]).await;
    // The command wrote its event before exiting: it is there at the first look.
    let events = app.audit("action=signingKey.rotated").await;
    let events = events["value"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"], "operator");
    assert_eq!(events[0]["details"]["slot"], "secondary");

    let regenerated = app
        .post("/keys/:regenerate")
        .json(&json!({ "keyType": "secondary" }))
        .send()
        .await;
    assert_eq!(regenerated.status(), 200);
    let events = app.audit_events("action=accessKey.regenerated", 1).await;
    assert_eq!(events[0]["actor"], "accessKey:primary");

    // Whoever lists the keys holds them: a listing is audited like a change.
    assert_eq!(app.signed(Method::GET, "/keys").send().await.status(), 200);
    let events = app.audit_events("action=accessKey.listed", 1).await;
    assert_eq!(events[0]["actor"], "accessKey:primary");
    assert_eq!(events[0]["clientAddress"], "127.0.0.1");

    // So is the command line's, by the operator, written before the command exits.
    run_cli(&app.settings, &["keys", "list"]).await;
    let events = app.audit("action=accessKey.listed").await;
    let events = events["value"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["actor"], "operator");
    assert_eq!(
        events[0]["details"]["slots"],
        json!(["primary", "secondary"])
    );
    assert!(events[0].get("clientAddress").is_none(), "{events:?}");
}

/// The server names every request; a client's id is kept beside it (never in its place) when it
/// is at most 128 visible ASCII characters, and dropped otherwise.
async fn a_client_s_request_id_is_kept_apart_and_only_if_short(app: TestApp) {
    let id = app.create_identity().await;
    let issue = |client_id: String| {
        app.post(&identity_path(&id, "/:issueAccessToken"))
            .json(&json!({ "scopes": ["chat"] }))
            .header("x-request-id", client_id)
    };
    let server_id = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };

    let short = issue("client-chosen-id-1".into()).send().await;
    assert_eq!(short.status(), 200);
    let short_id = server_id(&short);
    assert_ne!(short_id, "client-chosen-id-1", "the server's id is its own");

    let huge = "x".repeat(8 * 1024);
    let long = issue(huge.clone()).send().await;
    assert_eq!(long.status(), 200);
    let long_id = server_id(&long);
    assert!(long_id.len() <= 64, "{long_id}");

    // Short, but with a space: not visible ASCII.
    let unprintable = app
        .post(&identity_path(&id, "/:issueAccessToken"))
        .json(&json!({ "scopes": ["chat"] }))
        .header("x-ms-client-request-id", "9b1f 0c2e-sdk")
        .send()
        .await;
    assert_eq!(unprintable.status(), 200);
    assert!(!unprintable.headers().contains_key("x-ms-client-request-id"));
    let azure = app
        .post(&identity_path(&id, "/:issueAccessToken"))
        .json(&json!({ "scopes": ["chat"] }))
        .header("x-ms-client-request-id", "9b1f0c2e-sdk")
        .send()
        .await;
    assert_eq!(azure.headers()["x-ms-client-request-id"], "9b1f0c2e-sdk");
    let too_long = app
        .post(&identity_path(&id, "/:issueAccessToken"))
        .json(&json!({ "scopes": ["chat"] }))
        .header("x-ms-client-request-id", "a".repeat(129))
        .send()
        .await;
    assert_eq!(too_long.status(), 200);
    assert!(!too_long.headers().contains_key("x-ms-client-request-id"));

    let events = app
        .audit_events(&format!("identity={}&action=token.issued", encoded(&id)), 5)
        .await;
    let by_request = |request_id: &str| {
        events
            .iter()
            .find(|event| event["requestId"] == request_id)
            .unwrap_or_else(|| panic!("no event of request {request_id}: {events:?}"))
    };
    assert_eq!(
        by_request(&short_id)["clientRequestId"],
        "client-chosen-id-1"
    );
    assert!(by_request(&long_id).get("clientRequestId").is_none());
    assert!(
        events.iter().all(|e| e.to_string().len() < 2048),
        "no row carries the client's kilobytes"
    );
    assert_eq!(
        events[1]["clientRequestId"], "9b1f0c2e-sdk",
        "x-ms-client-request-id is the client's id too"
    );
}
