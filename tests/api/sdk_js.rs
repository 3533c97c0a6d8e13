//! The official JS SDK drives the running server over HTTPS (Node trusts the generated
//! certificate through `NODE_EXTRA_CA_CERTS`). `scripts/test` installs it and sets
//! `CALLSIGN_TEST_NODE`.

use crate::helpers::*;

backend_tests!(
    js_sdk_works_unchanged,
    js_credential_stays_fresh_through_session_refresh,
    js_sdk_works_with_a_token_credential_instead_of_a_key,
);

/// `new CommunicationIdentityClient(endpoint, credential)` with a client-credentials
/// `TokenCredential` of a local identity provider: no access key anywhere.
async fn js_sdk_works_with_a_token_credential_instead_of_a_key(app: TestApp) {
    let Some(node) = node() else { return };
    let (app, idp) = crate::backend_bearer::with_backend_idp(app).await;
    let output = tokio::process::Command::new(node)
        .arg("bearer.mjs")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/js"))
        .env("CALLSIGN_ENDPOINT", format!("{}/", app.base))
        .env("CALLSIGN_IDP_TOKEN_URL", idp.token_url())
        .env("NODE_EXTRA_CA_CERTS", &app.trust_file)
        .output()
        .await
        .expect("run node");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "JS SDK with a TokenCredential failed:\n{log}"
    );
    assert!(log.contains("OK"), "{log}");
    let last = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!app.is_active(&last).await);
}

fn node() -> Option<String> {
    required_env(
        "CALLSIGN_TEST_NODE",
        "./scripts/test installs the SDK and sets it",
    )
}

/// `AzureCommunicationTokenCredential` with a `tokenRefresher` calling `/v1/sessions/refresh`.
async fn js_credential_stays_fresh_through_session_refresh(app: TestApp) {
    let Some(node) = node() else { return };
    let session = app.new_session("js-user").await;
    let output = tokio::process::Command::new(node)
        .arg("refresher.mjs")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/js"))
        .env("CALLSIGN_BASE_URL", &app.base)
        .env(
            "CALLSIGN_REFRESH_TOKEN",
            session["refreshToken"].as_str().unwrap(),
        )
        .env("NODE_EXTRA_CA_CERTS", &app.trust_file)
        .output()
        .await
        .expect("run node");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "JS refresher failed:\n{log}");
    assert!(log.contains("OK"), "{log}");
    let last = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(claims(&last)["sub"], session["user"]["communicationUserId"]);
    assert!(!app.is_active(&last).await);
}

async fn js_sdk_works_unchanged(app: TestApp) {
    let Some(node) = node() else { return };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/js");
    let output = tokio::process::Command::new(node)
        // TAP explicitly: the default reporter differs between Node versions.
        .args(["--test", "--test-reporter=tap", "test.mjs"])
        .current_dir(dir)
        .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
        .env("NODE_EXTRA_CA_CERTS", &app.trust_file)
        .output()
        .await
        .expect("run node");
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "JS SDK tests failed:\n{log}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(log.contains("# pass 6"), "{log}");
}
