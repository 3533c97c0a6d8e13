//! Slow and idle clients: hundreds of connections dribbling their headers (slowloris) or saying
//! nothing at all cost bounded memory, do not starve well-behaved clients, and are closed once
//! the header timeout (10 s) passes.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::process::rss_kib;

const SLOW: usize = 300;
const IDLE: usize = 300;

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_neither_starve_others_nor_stay_forever() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_process(&settings, dir, &["--rate-limits", "off"]).await;
    let pid = app.pid().unwrap();
    let id = app.create_identity().await;
    app.token_for(&id).await;
    let before = rss_kib(pid);

    let mut held = Vec::new();
    for i in 0..SLOW + IDLE {
        let mut stream = TcpStream::connect(&app.host).await.unwrap();
        if i < SLOW {
            stream
                .write_all(b"POST /identities?api-version=2023-10-01 HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    let dribbling = tokio::spawn(async move {
        // One more header byte a second on each slow connection; stop when one is closed.
        let mut closed = Vec::new();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for (i, stream) in held.iter_mut().enumerate().take(SLOW) {
                if !closed.contains(&i) && stream.write_all(b"X").await.is_err() {
                    closed.push(i);
                }
            }
            if closed.len() == SLOW {
                break;
            }
        }
        let mut buffer = [0u8; 64];
        let idle_closed =
            tokio::time::timeout(Duration::from_secs(5), held[SLOW].read(&mut buffer))
                .await
                .is_ok_and(|read| !matches!(read, Ok(n) if n > 0));
        (closed.len(), idle_closed)
    });

    // A well-behaved client meanwhile.
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let started = Instant::now();
        let response = app
            .issue(&id, serde_json::json!({ "scopes": ["chat"] }))
            .await;
        assert_eq!(response.status(), 200);
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let grown_kib = rss_kib(pid).saturating_sub(before);
    eprintln!(
        "{SLOW} slow + {IDLE} idle connections: {} requests from a good client, p99 {p99:?}, RSS +{} KiB",
        latencies.len(),
        grown_kib
    );
    assert!(p99 < Duration::from_millis(500), "p99 {p99:?}");
    assert!(grown_kib < 64 * 1024, "RSS grew {grown_kib} KiB");

    let (closed, idle_closed) = dribbling.await.unwrap();
    assert_eq!(
        closed, SLOW,
        "every slowloris connection is closed by the header timeout"
    );
    assert!(idle_closed, "an idle connection is closed too");
}
