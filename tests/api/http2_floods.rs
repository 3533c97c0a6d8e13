//! HTTP/2 floods against the plain-HTTP listener (HTTP/2 by prior knowledge, as over TLS with
//! ALPN `h2`): rapid reset (streams opened and cancelled at once, CVE-2023-44487), PING and
//! SETTINGS floods from a client that never reads the answers, and streams opened far beyond
//! the concurrency limit. The attacker's connection is closed (`GOAWAY ENHANCE_YOUR_CALM`) or
//! throttled by its own unread answers, the server's memory stays bounded, and a well-behaved
//! backend issuing tokens on another connection meanwhile stays fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::Request;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use crate::helpers::*;
use crate::process::{peak_rss_kib, reset_peak_rss};

/// Streams the rapid-reset attacker opens and cancels at most.
const RAPID_RESETS: usize = 10_000;
/// How long a PING or SETTINGS flooder writes.
const FLOOD_FOR: Duration = Duration::from_secs(3);
/// Streams opened on one connection, against the server's limit of 100.
const STREAMS_OPENED: u32 = 2_000;
/// A well-behaved backend's p99 during the attacks, with margin for a noisy 2-core machine.
const GOOD_P99_BOUND: Duration = Duration::from_millis(500);
const PEAK_GROWTH_BOUND_KIB: u64 = 64 * 1024;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_floods_close_the_attacker_and_spare_everyone_else() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = Arc::new(spawn_process(&settings, dir, &["--rate-limits", "off"]).await);
    let pid = app.pid().unwrap();
    let id = app.create_identity().await;
    app.token_for(&id).await;
    reset_peak_rss(pid);
    let baseline = peak_rss_kib(pid);

    let attacking = Arc::new(AtomicBool::new(true));
    let good = tokio::spawn(issue_meanwhile(app.clone(), id, attacking.clone()));

    let (reset, ended) = rapid_reset(&app.host).await;
    eprintln!("rapid reset: {reset} streams opened and reset, then {ended:?}");
    assert!(ended.by_the_server(), "{ended:?}");
    assert!(reset < RAPID_RESETS, "{reset}");

    for (name, kind, payload) in [
        ("PING", PING, &[0u8; 8][..]),
        ("SETTINGS", SETTINGS, &[][..]),
    ] {
        let (written, held_back) = flood(&app.host, kind, payload).await;
        eprintln!(
            "{name} flood: {written} frames written in {FLOOD_FOR:?}, answers unread; {}",
            if held_back {
                "the server stopped reading"
            } else {
                "the server kept reading"
            }
        );
    }

    let streams = beyond_the_limit(&app.host).await;
    eprintln!(
        "{STREAMS_OPENED} streams on one connection: {} answered, {} refused, then {:?}",
        streams.answered, streams.refused, streams.ended
    );
    assert!(streams.answered <= 100, "{}", streams.answered);
    assert!(streams.refused > 0);
    assert!(streams.ended.by_the_server(), "{:?}", streams.ended);

    attacking.store(false, Ordering::SeqCst);
    let mut latencies = good.await.unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let grown_kib = peak_rss_kib(pid).saturating_sub(baseline);
    eprintln!(
        "a backend meanwhile: {} token issues, p99 {p99:.1?}; peak RSS +{} KiB",
        latencies.len(),
        grown_kib
    );
    assert!(p99 < GOOD_P99_BOUND, "p99 {p99:?}");
    assert!(
        grown_kib < PEAK_GROWTH_BOUND_KIB,
        "peak RSS grew {grown_kib} KiB"
    );
    // Still serving HTTP/2 to a well-behaved client.
    assert_eq!(h2_get(&app.host, "/healthz").await, 200);
}

/// A backend issuing tokens over HTTP/1.1 until `attacking` turns false; its latencies.
async fn issue_meanwhile(
    app: Arc<TestApp>,
    id: String,
    attacking: Arc<AtomicBool>,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while attacking.load(Ordering::SeqCst) {
        let started = Instant::now();
        let issued = app.issue(&id, json!({ "scopes": ["chat"] })).await;
        assert_eq!(issued.status(), 200);
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies
}

/// How an attacker's connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// With a GOAWAY frame and this error code.
    GoAway(u32),
    /// Reset: the server closed it with the attacker's frames still unread, which can beat its
    /// GOAWAY to the attacker.
    Reset,
    /// Closed without a word, or by the attacker.
    Otherwise,
}

impl Ended {
    /// `GOAWAY ENHANCE_YOUR_CALM`, or a reset that may have overtaken it.
    fn by_the_server(&self) -> bool {
        matches!(self, Ended::GoAway(ENHANCE_YOUR_CALM) | Ended::Reset)
    }
}

/// Opens streams and resets each at once, until the server ends the connection; how many were
/// reset, and how it ended.
async fn rapid_reset(host: &str) -> (usize, Ended) {
    let tcp = TcpStream::connect(host).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = Some(client);
    let mut reset = 0;
    while let Some(idle) = client.take()
        && reset < RAPID_RESETS
    {
        let Ok(mut ready) = idle.ready().await else {
            break;
        };
        let request = Request::get(format!("http://{host}/healthz"))
            .body(())
            .unwrap();
        let Ok((_, mut stream)) = ready.send_request(request, false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        reset += 1;
        client = Some(ready);
    }
    // Dropping the last handle lets the connection end if the server has not ended it.
    drop(client);
    let ended = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("the connection ends")
        .unwrap();
    let ended = match ended {
        Err(error) if error.is_go_away() => error
            .reason()
            .map_or(Ended::Otherwise, |reason| Ended::GoAway(reason.into())),
        Err(error) if error.is_io() => Ended::Reset,
        _ => Ended::Otherwise,
    };
    (reset, ended)
}

/// One well-behaved HTTP/2 GET, its body read; its status.
async fn h2_get(host: &str, path: &str) -> u16 {
    let tcp = TcpStream::connect(host).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = Request::get(format!("http://{host}{path}"))
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.unwrap().len());
    }
    status
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A connection that has sent the preface and its (empty) SETTINGS.
async fn raw_h2(host: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(host).await.unwrap();
    tcp.write_all(PREFACE).await.unwrap();
    tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    tcp
}

/// Writes frames of `kind` as fast as the server takes them for [`FLOOD_FOR`], never reading
/// its answers; how many were written, and whether the server had stopped reading at the end
/// (the last write could not complete).
async fn flood(host: &str, kind: u8, payload: &[u8]) -> (usize, bool) {
    let mut tcp = raw_h2(host).await;
    let batch: Vec<u8> = (0..1000).flat_map(|_| frame(kind, 0, 0, payload)).collect();
    let until = Instant::now() + FLOOD_FOR;
    let mut written = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.write_all(&batch)).await {
            Ok(Ok(())) if !left.is_zero() => written += 1000,
            Ok(_) => return (written, false),
            Err(_) => return (written, true),
        }
    }
}

/// What the server answered to streams opened beyond its limit.
struct StreamsAnswer {
    answered: usize,
    refused: usize,
    ended: Ended,
}

/// Opens [`STREAMS_OPENED`] `GET /healthz` streams on one connection without ever ending them
/// (so each holds a slot), then reads what the server says.
async fn beyond_the_limit(host: &str) -> StreamsAnswer {
    let (reading, mut writing) = raw_h2(host).await.into_split();
    let answers = tokio::spawn(read_answers(reading));
    let authority = host.as_bytes();
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x01, authority.len() as u8]);
    block.extend_from_slice(authority);
    for stream in (1..STREAMS_OPENED * 2).step_by(2) {
        if writing
            .write_all(&frame(HEADERS, END_HEADERS, stream, &block))
            .await
            .is_err()
        {
            break;
        }
    }
    tokio::time::timeout(Duration::from_secs(10), answers)
        .await
        .expect("the server ends the connection")
        .unwrap()
}

/// Counts the server's frames until it closes the connection.
async fn read_answers(mut reading: OwnedReadHalf) -> StreamsAnswer {
    let mut answer = StreamsAnswer {
        answered: 0,
        refused: 0,
        ended: Ended::Otherwise,
    };
    let reset = |error: std::io::Error| error.kind() == std::io::ErrorKind::ConnectionReset;
    let mut header = [0u8; 9];
    loop {
        if let Err(error) = reading.read_exact(&mut header).await {
            if reset(error) && answer.ended == Ended::Otherwise {
                answer.ended = Ended::Reset;
            }
            break;
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        if let Err(error) = reading.read_exact(&mut payload).await {
            if reset(error) && answer.ended == Ended::Otherwise {
                answer.ended = Ended::Reset;
            }
            break;
        }
        let code = |at: usize| {
            payload
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        match header[3] {
            HEADERS => answer.answered += 1,
            RST_STREAM if code(0) == Some(REFUSED_STREAM) => answer.refused += 1,
            GOAWAY => answer.ended = code(4).map_or(Ended::Otherwise, Ended::GoAway),
            _ => {}
        }
    }
    answer
}
