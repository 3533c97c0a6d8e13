//! Guests: off by default; when on, a fresh identity with a short-lived guest token each time,
//! rate-limited per client address.

use crate::helpers::*;

backend_tests!(
    guests_are_off_by_default,
    guests_get_fresh_identities_with_guest_scopes
);

async fn guests_are_off_by_default(app: TestApp) {
    let response = app.public_post("/v1/guests", &serde_json::json!({})).await;
    assert_error(response, 404, "GuestsDisabled").await;
}

async fn guests_get_fresh_identities_with_guest_scopes(app: TestApp) {
    let app = app
        .restart_with(&["--guests", "on", "--guests-per-minute", "3"])
        .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let response = app.public_post("/v1/guests", &serde_json::json!({})).await;
        assert_eq!(response.status(), 201);
        let guest = body(response).await;
        let token = guest["token"].as_str().unwrap();
        let claims = claims(token);
        assert_eq!(claims["sub"], guest["communicationUserId"]);
        assert_eq!(claims["acsScope"], "chat.join.limited,voip.join");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        assert!(app.is_active(token).await);
        seen.push(guest["communicationUserId"].clone());
    }
    let distinct: std::collections::BTreeSet<String> = seen
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        distinct.len(),
        3,
        "each guest is a fresh identity: {seen:?}"
    );
    let limited = app.public_post("/v1/guests", &serde_json::json!({})).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "TooManyRequests").await;
}
