//! The official Python SDK drives the running server (over HTTPS, trusting the generated
//! certificate). `scripts/test` makes the venv and sets `CALLSIGN_TEST_PYTHON`.

use crate::helpers::*;

backend_tests!(
    python_sdk_works_unchanged,
    python_credential_stays_fresh_through_session_refresh,
    python_sdk_works_with_a_token_credential_instead_of_a_key,
);

/// `CommunicationIdentityClient(endpoint, credential)` with a client-credentials
/// `TokenCredential` of a local identity provider: no access key anywhere.
async fn python_sdk_works_with_a_token_credential_instead_of_a_key(app: TestApp) {
    let Some(python) = python() else { return };
    let (app, idp) = crate::backend_bearer::with_backend_idp(app).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/bearer_python.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("CALLSIGN_ENDPOINT", format!("{}/", app.base))
        .env("CALLSIGN_IDP_TOKEN_URL", idp.token_url())
        .env("REQUESTS_CA_BUNDLE", &app.trust_file)
        .output()
        .await
        .expect("run python");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python SDK with a TokenCredential failed:\n{log}"
    );
    assert!(log.contains("OK"), "{log}");
    // The token the SDK was issued for an identity it then deleted is dead.
    let last = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!app.is_active(&last).await);
}

async fn python_sdk_works_unchanged(app: TestApp) {
    let Some(python) = python() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/test_python_sdk.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
        .env("REQUESTS_CA_BUNDLE", &app.trust_file)
        .output()
        .await
        .expect("run python");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python SDK tests failed:\n{log}");
    assert!(log.contains("OK"), "{log}");
}

/// `CommunicationTokenCredential` with a `token_refresher` calling `/v1/sessions/refresh`.
async fn python_credential_stays_fresh_through_session_refresh(app: TestApp) {
    let Some(python) = python() else { return };
    let session = app.new_session("python-user").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/refresher_python.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("CALLSIGN_BASE_URL", &app.base)
        .env(
            "CALLSIGN_REFRESH_TOKEN",
            session["refreshToken"].as_str().unwrap(),
        )
        .env("REQUESTS_CA_BUNDLE", &app.trust_file)
        .output()
        .await
        .expect("run python");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python refresher failed:\n{log}");
    assert!(log.contains("OK"), "{log}");
    // The last token the refresher got was revoked by the sign-out everywhere.
    let last = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(claims(&last)["sub"], session["user"]["communicationUserId"]);
    assert!(!app.is_active(&last).await);
}

fn python() -> Option<String> {
    required_env(
        "CALLSIGN_TEST_PYTHON",
        "./scripts/test makes the venv and sets it",
    )
}
