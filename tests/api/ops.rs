//! Liveness, readiness, version and Prometheus metrics: answered without authentication. The
//! probes on every listener; version and metrics on the ops listener only, metrics on the main
//! listener too when made public.

use crate::helpers::*;

async fn health_and_readiness_answer_without_auth(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-request-id"));
    }
}

backend_tests!(
    health_and_readiness_answer_without_auth,
    metrics_count_requests_by_route_template_and_tokens_by_scope,
    random_paths_make_no_new_series,
    version_names_the_build,
    metrics_can_be_turned_off,
    a_separate_ops_listener_takes_the_metrics,
    metrics_and_version_are_not_on_the_main_listener_by_default,
    public_metrics_are_on_the_main_listener_too,
);

/// The same server with its metrics public on the main listener.
async fn public_metrics(app: TestApp) -> TestApp {
    app.restart_with(&["--metrics", "public"]).await
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    let url = format!("{}{path}", app.base);
    app.client.get(url).send().await.unwrap().status().as_u16()
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

async fn metrics_count_requests_by_route_template_and_tokens_by_scope(app: TestApp) {
    let app = public_metrics(app).await;
    let id = app.create_identity().await;
    app.token_for(&id).await;
    assert_eq!(app.revoke(&id).await.status(), 204);
    let text = metrics_text(&app).await;
    for expected in [
        r#"http_requests_total{method="POST",route="/identities",status="201"}"#,
        // Issue and revoke share a route template; each is counted under its own operation.
        r#"http_requests_total{method="POST",route="/identities/{id}/:issueAccessToken",status="200"}"#,
        r#"http_requests_total{method="POST",route="/identities/{id}/:revokeAccessTokens",status="204"}"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/identities""#,
        r#"callsign_tokens_issued_total{scope="chat"}"#,
        "callsign_revocations_total",
        r#"callsign_known_identity_lookups_total{result="hit"}"#,
        "callsign_revocation_cache_entries",
        r#"callsign_db_pool_connections{state="idle"}"#,
        r#"callsign_build_info{version=""#,
        // The process's own figures, as Prometheus' client libraries name them.
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // Every family says what it counts (Prometheus HELP), and the counters alerts rate are
    // there from the start.
    for family in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let name = family.split(' ').next().unwrap();
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("# HELP {name} "))),
            "no HELP for {name}"
        );
    }
    promtool_finds_nothing(&text);
    for counter in [
        "callsign_identity_deletions_total",
        "callsign_audit_events_dropped_total",
        "callsign_audit_backpressure_total",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(counter)),
            "{counter} is not exported"
        );
    }
    let denied = app
        .post(&format!("/identities?{API}"))
        .unsigned()
        .send()
        .await;
    assert_eq!(denied.status(), 401);
    let text = metrics_text(&app).await;
    assert!(text.contains(r#"callsign_authentication_failures_total{reason="access_key"}"#));
}

async fn random_paths_make_no_new_series(app: TestApp) {
    let app = public_metrics(app).await;
    for i in 0..300 {
        let path = format!("/no-such-route-{i}/{}", uuid::Uuid::new_v4().simple());
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    let text = metrics_text(&app).await;
    assert!(
        !text.contains("no-such-route"),
        "a random path became a label"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
}

async fn version_names_the_build(app: TestApp) {
    let app = app.restart_with(&["--ops-listen", "127.0.0.1:0"]).await;
    let ops = app.ops.clone().expect("an ops listener");
    let version = body(
        plain_client()
            .get(format!("{ops}/version"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(!version["commit"].as_str().unwrap().is_empty());
}

async fn metrics_can_be_turned_off(app: TestApp) {
    let app = app
        .restart_with(&["--metrics", "off", "--ops-listen", "127.0.0.1:0"])
        .await;
    let ops = app.ops.clone().expect("an ops listener");
    let response = plain_client()
        .get(format!("{ops}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(status_of(&app, "/metrics").await, 404);
}

async fn metrics_and_version_are_not_on_the_main_listener_by_default(app: TestApp) {
    for path in ["/metrics", "/version"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_error(response, 404, "NotFound").await;
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(status_of(&app, path).await, 200, "{path}");
    }
}

async fn public_metrics_are_on_the_main_listener_too(app: TestApp) {
    let app = app
        .restart_with(&["--metrics", "public", "--ops-listen", "127.0.0.1:0"])
        .await;
    let ops = app.ops.clone().expect("an ops listener");
    assert!(metrics_text(&app).await.contains("callsign_build_info"));
    let on_ops = plain_client()
        .get(format!("{ops}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_ops.status(), 200);
    assert_eq!(
        status_of(&app, "/version").await,
        404,
        "version stays on ops"
    );
}

async fn a_separate_ops_listener_takes_the_metrics(app: TestApp) {
    let app = app.restart_with(&["--ops-listen", "127.0.0.1:0"]).await;
    let ops = app.ops.clone().expect("an ops listener");
    let main_metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        main_metrics.status(),
        404,
        "metrics leave the main listener"
    );

    let client = plain_client();
    let metrics = client.get(format!("{ops}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("callsign_build_info")
    );
    for path in ["/healthz", "/readyz", "/version"] {
        let on_ops = client.get(format!("{ops}{path}")).send().await.unwrap();
        assert_eq!(on_ops.status(), 200, "{path} on the ops listener");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            status_of(&app, path).await,
            200,
            "{path} stays on the main listener"
        );
    }
    assert_eq!(
        status_of(&app, "/version").await,
        404,
        "version is the ops listener's"
    );
    let api = client.get(format!("{ops}/keys")).send().await.unwrap();
    assert_eq!(api.status(), 404, "the API is not on the ops listener");
}

/// `callsign health`, as a container's HEALTHCHECK runs it.
async fn health_command(args: &[String]) -> bool {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(args)
        .arg("health")
        .output()
        .await
        .expect("run callsign health")
        .status
        .success()
}

#[tokio::test]
async fn the_health_command_probes_the_ops_or_main_listener() {
    let ops = format!("127.0.0.1:{}", crate::process::free_port());
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_app_with(settings, dir, &["--ops-listen", &ops]).await;
    assert!(health_command(&["--ops-listen".into(), ops.clone()]).await);
    // Without an ops listener it probes the main one, over HTTPS.
    assert!(health_command(&["--listen".into(), app.host.clone()]).await);
    drop(app);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !health_command(&["--ops-listen".into(), ops]).await,
        "nothing answers once it has stopped"
    );
}

/// `promtool check metrics`, Prometheus' own linter, finds nothing to say of a scrape. It runs
/// where promtool is installed; CI installs it (`scripts/check-deploy`), so there it must be.
fn promtool_finds_nothing(scrape: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(_) if std::env::var("CI").as_deref() != Ok("true") => return,
        Err(error) => panic!("promtool is not installed: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every request has its access-log line at `info` (route template, status, latency, request
/// id), and a refused sign-in names the client's address, never the username.
#[tokio::test]
async fn requests_are_access_logged_and_refused_sign_ins_name_the_client() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let (app, log) = crate::process::spawn_process_logging(&settings, dir, &[], "info").await;
    let response = app
        .client
        .post(format!("{}/v1/sessions", app.base))
        .json(&serde_json::json!({"username": "someone-unknown", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (refused, access) = loop {
        let text = log.lock().unwrap().clone();
        let find = |needle: &str| {
            text.lines()
                .find(|line| line.contains(needle))
                .map(str::to_owned)
        };
        if let (Some(refused), Some(access)) = (
            find("sign-in refused"),
            find("callsign::access: request route=\"/v1/sessions\""),
        ) {
            break (refused, access);
        }
        assert!(std::time::Instant::now() < deadline, "not logged: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(refused.contains("client=127.0.0.1"), "{refused}");
    assert!(!refused.contains("someone-unknown"), "{refused}");
    for field in ["status=401", "latency_ms=", &request_id] {
        assert!(access.contains(field), "{field} missing: {access}");
    }
}
