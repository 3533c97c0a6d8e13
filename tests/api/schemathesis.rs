//! schemathesis (property-based API testing from `/openapi.json`) against the running server,
//! every check and every phase (examples, coverage, fuzzing, stateful), once authenticated with
//! an access key (HMAC, as the SDKs sign) and once with bearer tokens of the identity provider:
//! no server error, no response the document does not describe, nothing accepted without valid
//! authentication.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::helpers::*;
use crate::idp::{AUDIENCE, BACKEND_AUDIENCE, EC_KID, LocalIdp};

backend_tests!(schemathesis_finds_nothing);

/// How long each authentication's run may take.
const BUDGET_SECS: &str = "40";

async fn run(app: &TestApp, auth: &str, extra_env: &[(&str, &str)], extra_args: &[&str]) {
    let Some(python) = required_env(
        "CALLSIGN_TEST_PYTHON",
        "./scripts/test makes the venv (with schemathesis) and sets it",
    ) else {
        return;
    };
    let schemathesis = std::path::Path::new(&python).with_file_name("schemathesis");
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis");
    let report = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(&schemathesis)
            .arg("--config-file")
            .arg(format!("{hooks}/schemathesis.toml"))
            .args(["run", &format!("{}/openapi.json", app.base)])
            // One worker: Python 3.11's parser is not thread-safe under hypothesis.
            .args(["--max-time", BUDGET_SECS, "--workers", "1"])
            .args(["--tls-verify", app.trust_file.to_str().unwrap()])
            .args(["--generation-database", "none", "--no-color"])
            .arg("--report-dir")
            .arg(report.path())
            // The ops listener's routes: this server has none (not served on the main one).
            .args(["--exclude-path", "/metrics", "--exclude-path", "/version"])
            .args(extra_args)
            .env("PYTHONPATH", hooks)
            .env("SCHEMATHESIS_HOOKS", "callsign_hooks")
            .env("CALLSIGN_AUTH", auth)
            .env("CALLSIGN_ACCESS_KEY", &app.settings.primary_key)
            .envs(extra_env.iter().copied())
            .output(),
    )
    .await
    .expect("schemathesis finishes")
    .expect("run schemathesis");
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis ({auth}) found problems:\n{log}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "schemathesis ({auth}): {}",
        log.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
    );
}

async fn schemathesis_finds_nothing(app: TestApp) {
    let idp = LocalIdp::start().await;
    let app = app
        .restart_with(&[
            "--oidc-issuer",
            &idp.issuer,
            "--oidc-audience",
            AUDIENCE,
            "--backend-oidc-issuer",
            &idp.issuer,
            "--admin-roles",
            "Callsign.Admin",
            "--guests",
            "on",
            "--rate-limits",
            "off",
            "--key-admin",
            "api",
            // A long poll answers within schemathesis's 10 s request timeout.
            "--ssf-poll-wait-secs",
            "1",
        ])
        .await;
    // Access-key signatures on everything but the routes only the app's users may call, and
    // the key regeneration that would take the run's own key away (the bearer run covers it).
    run(
        &app,
        "hmac",
        &[],
        &[
            "--exclude-tag",
            "bearer",
            "--exclude-operation-id",
            "regenerateKey",
        ],
    )
    .await;

    // One provider token that is both an admin backend's and an app user's.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": idp.issuer, "aud": [BACKEND_AUDIENCE, AUDIENCE], "sub": "schemathesis",
        "azp": "schemathesis", "roles": ["Callsign.Admin"], "iat": now, "nbf": now, "exp": now + 3600,
    });
    let bearer = idp.sign(Algorithm::ES256, Some(EC_KID), &claims);
    run(&app, "bearer", &[("CALLSIGN_BEARER", &bearer)], &[]).await;
}
