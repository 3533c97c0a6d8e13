//! OpenTelemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a request's span is exported over
//! OTLP/HTTP as a child of the caller's `traceparent`, named and attributed by the HTTP semantic
//! conventions; its log lines carry the trace id, and a graceful shutdown flushes what is
//! buffered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;

use crate::helpers::*;
use crate::process::{signal, start_binary};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// A stand-in OTLP collector: keeps every body posted to `/v1/traces`.
async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post(
                |State(received): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    received.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn hex(raw: &str) -> Vec<u8> {
    (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&raw[i..i + 2], 16).unwrap())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(unix)]
#[tokio::test]
async fn a_request_span_continues_the_callers_trace_and_is_flushed_at_shutdown() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let mut args = settings.args();
    args.extend(["--tls", "off", "--log-format", "json"].map(String::from));
    let (mut child, port, output) = start_binary(
        &args,
        &[
            ("RUST_LOG", "info"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ],
    )
    .await;

    // Unsigned: refused, with an info line inside the request's span.
    let response = plain_client()
        .post(format!("http://127.0.0.1:{port}/identities?{API}"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A sign-in looks the account up: a database call, its own span inside the request's.
    let response = plain_client()
        .post(format!("http://127.0.0.1:{port}/v1/sessions"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .json(&serde_json::json!({"username": "nobody", "password": "not-a-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    signal(child.id().unwrap(), "TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");

    let exported = received.lock().unwrap().concat();
    assert!(
        contains(&exported, &hex(TRACE_ID)),
        "the request's span was exported in the caller's trace"
    );
    assert!(
        contains(&exported, &hex(PARENT_SPAN)),
        "as a child of the caller's span"
    );
    // Named and attributed as OpenTelemetry's HTTP server conventions say.
    for expected in [
        "POST /identities",
        "http.request.method",
        "http.route",
        "/identities",
        "http.response.status_code",
        "url.path",
        "client.address",
        "127.0.0.1",
        "POST /v1/sessions",
        "SELECT app_users",
        "db.system.name",
        "sqlite",
        "db.operation.name",
        "db.collection.name",
    ] {
        assert!(
            contains(&exported, expected.as_bytes()),
            "the exported span has no {expected}"
        );
    }
    let logs = output.lock().unwrap().clone();
    let refused = logs
        .lines()
        .find(|line| line.contains("access key authentication failed"))
        .unwrap_or_else(|| panic!("no refusal logged: {logs}"));
    assert!(
        refused.contains(&format!("\"trace_id\":\"{TRACE_ID}\"")),
        "{refused}"
    );
}
