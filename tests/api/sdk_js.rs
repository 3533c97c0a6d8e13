//! The official JS SDK drives the running server over HTTPS (Node trusts the generated
//! certificate through `NODE_EXTRA_CA_CERTS`). `scripts/test` installs it and sets
//! `CALLSIGN_TEST_NODE`.

use crate::helpers::*;

backend_tests!(js_sdk_works_unchanged);

async fn js_sdk_works_unchanged(app: TestApp) {
    let Some(node) = required_env(
        "CALLSIGN_TEST_NODE",
        "./scripts/test installs the SDK and sets it",
    ) else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/js");
    let output = tokio::process::Command::new(node)
        .args(["--test", "test.mjs"])
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
