//! Introspection: active tokens tell their identity, scopes and expiry; forged or broken ones
//! are inactive and tell nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    active_token_reports_identity_scopes_and_expiry,
    forged_and_broken_tokens_are_inactive,
    token_payloads_survive_the_python_sdks_base64_decoding,
);

async fn active_token_reports_identity_scopes_and_expiry(app: TestApp) {
    let id = app.create_identity().await;
    let response = app
        .issue(
            &id,
            json!({ "scopes": ["voip", "chat"], "expiresInMinutes": 90 }),
        )
        .await;
    let token = body(response).await["token"].as_str().unwrap().to_owned();
    let answer = app.introspect(&token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], id.as_str());
    assert_eq!(answer["scope"], "chat voip");
    assert_eq!(answer["scopes"], json!(["chat", "voip"]));
    assert_eq!(answer["exp"], claims(&token)["exp"]);
}

fn segment(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn forged_and_broken_tokens_are_inactive(app: TestApp) {
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();

    let mut longer = claims(&token);
    longer["exp"] = json!(claims(&token)["exp"].as_i64().unwrap() + 3600);
    let mut more_scopes = claims(&token);
    more_scopes["acsScope"] = json!("chat,voip");
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let mut hs512 = header.clone();
    hs512["alg"] = json!("HS512");
    let mut evil_kid = header.clone();
    evil_kid["kid"] = json!("../../etc/passwd' OR 1=1 --");
    let mut huge_kid = header.clone();
    huge_kid["kid"] = json!("k".repeat(10_000));

    let forged = [
        format!("{}.{}.{}", parts[0], segment(&longer), parts[2]),
        format!("{}.{}.{}", parts[0], segment(&more_scopes), parts[2]),
        format!("{}.{}.", segment(&none_header), parts[1]),
        format!(
            "{}.{}.",
            segment(&json!({"alg": "NoNe", "typ": "JWT"})),
            parts[1]
        ),
        format!("{}.{}.{}", segment(&hs512), parts[1], parts[2]),
        format!("{}.{}.{}", segment(&evil_kid), parts[1], parts[2]),
        format!("{}.{}.{}", segment(&huge_kid), parts[1], parts[2]),
        format!("{}.{}.{}x", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        format!("{}..{}", parts[0], parts[2]),
        "..".to_owned(),
        String::new(),
        "not a token at all".to_owned(),
        "ü.ö.ä".to_owned(),
    ];
    for forged in forged {
        let answer = app.introspect(&forged).await;
        assert_eq!(answer, json!({ "active": false }), "{forged:.80}");
    }
    assert!(app.is_active(&token).await, "the genuine token still works");
}

async fn token_payloads_survive_the_python_sdks_base64_decoding(app: TestApp) {
    // The Python SDK decodes the payload with the standard alphabet, dropping '-' and '_'.
    for _ in 0..20 {
        let id = app.create_identity().await;
        let token = app.token_for(&id).await;
        let payload = token.split('.').nth(1).unwrap();
        assert!(!payload.contains(['-', '_']), "{payload}");
    }
}
