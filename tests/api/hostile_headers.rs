//! Headers no client should send: one of a megabyte, hundreds of them, bytes HTTP forbids. The
//! HTTP layer refuses them with a 4xx before any route runs (so without the ACS error body),
//! headers within its limits but absurd for Callsign get the route's ACS-shaped 4xx, and the
//! server keeps serving throughout. Plain HTTP over raw sockets, so the bytes are exactly these.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

backend_tests!(oversized_many_and_invalid_headers_are_4xx_and_serving_goes_on);

/// Sends `head` (request line and headers, without the blank line) and returns the status
/// line's code, or `None` when the server closed the connection without an answer.
async fn status_of(app: &TestApp, head: &[u8]) -> Option<u16> {
    let mut socket = TcpStream::connect(&app.host).await.unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = socket.write_all(head).await;
    let _ = socket.write_all(b"\r\n\r\n").await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        socket.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers or closes within 10 s");
    if read.is_err() && answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    Some(status.parse().unwrap())
}

fn request(headers: &str) -> Vec<u8> {
    format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close{headers}").into_bytes()
}

async fn oversized_many_and_invalid_headers_are_4xx_and_serving_goes_on(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let settings = app.settings.clone();
    drop(app);
    let app = spawn_process(&settings, Arc::new(dir), &[]).await;
    assert_eq!(status_of(&app, &request("")).await, Some(200));

    let huge = format!("\r\nX-Huge: {}", "a".repeat(1024 * 1024));
    let many: String = (0..500).map(|i| format!("\r\nX-Many-{i}: {i}")).collect();
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("a 1 MB header", request(&huge), 431),
        ("500 headers", request(&many), 431),
        (
            "a control byte in a value",
            request("\r\nX-Bad: a\x01b"),
            400,
        ),
        ("a space in a name", request("\r\nX Bad: 1"), 400),
        ("a line without a colon", request("\r\nno-colon-here"), 400),
    ];
    for (case, head, expected) in cases {
        let status = status_of(&app, &head).await;
        assert_eq!(status, Some(expected), "{case}");
        assert_eq!(
            status_of(&app, &request("")).await,
            Some(200),
            "still serving after {case}"
        );
    }

    // Within the HTTP layer's limits, but absurd for signing: the route's own 401.
    for (name, value) in [
        (
            "authorization",
            "HMAC-SHA256 ".to_owned() + &"A".repeat(64 * 1024),
        ),
        ("x-ms-date", "Tue, ".repeat(10_000)),
        ("x-ms-content-sha256", "A".repeat(64 * 1024)),
    ] {
        let response = app
            .client
            .post(format!("{}/identities?{API}", app.base))
            .header(
                "authorization",
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AAAA",
            )
            .header("x-ms-date", http_date(0))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "Denied").await;
    }
    assert_eq!(
        app.post(&format!("/identities?{API}"))
            .send()
            .await
            .status(),
        201
    );
}
