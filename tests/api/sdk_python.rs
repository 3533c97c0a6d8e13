//! The official Python SDK drives the running server (over HTTPS, trusting the generated
//! certificate). `scripts/test` makes the venv and sets `CALLSIGN_TEST_PYTHON`.

use crate::helpers::*;

backend_tests!(python_sdk_works_unchanged);

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

fn python() -> Option<String> {
    required_env(
        "CALLSIGN_TEST_PYTHON",
        "./scripts/test makes the venv and sets it",
    )
}
