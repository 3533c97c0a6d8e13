//! A slow database (every packet to and from PostgreSQL delayed, as over a congested link):
//! requests that need it answer 503 `ServiceUnavailable` within the pool's acquire timeout
//! instead of queueing without bound, requests that do not need it stay fast, and when the
//! database is fast again so is Callsign, without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::via;
use crate::helpers::*;

/// A TCP proxy that holds every chunk for `delay` before passing it on.
struct SlowLink {
    address: String,
    delay_ms: Arc<AtomicU64>,
}

impl SlowLink {
    async fn start(target: String) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pass_on(client_read, server_write, delay.clone()));
                tokio::spawn(pass_on(server_read, client_write, delay.clone()));
            }
        });
        SlowLink { address, delay_ms }
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

async fn pass_on(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    delay_ms: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let delay = delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_database_gets_fast_503s_not_a_growing_queue() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut settings) = ServerSettings::new(Backend::Postgres, dir.path()).await else {
        return;
    };
    let link = SlowLink::start(via(&settings.database_url, "x").1).await;
    settings.database_url = via(&settings.database_url, &link.address).0;
    let app = spawn_app_with(
        settings,
        dir,
        &[
            "--db-max-connections",
            "2",
            "--db-acquire-timeout-ms",
            "500",
        ],
    )
    .await;
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;

    link.set_delay(Duration::from_secs(2));
    let started = Instant::now();
    let creates = (0..12).map(|_| async {
        let response = app.post(&format!("/identities?{API}")).send().await;
        let status = response.status().as_u16();
        let answer = body(response).await;
        (status, answer, started.elapsed())
    });
    let during = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let health = Instant::now();
        let status = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        let issue = app
            .issue(&id, serde_json::json!({ "scopes": ["chat"] }))
            .await;
        assert_eq!(issue.status(), 200, "issuing for a known identity");
        assert!(app.is_active(&token).await);
        health.elapsed()
    };
    let (outcomes, memory_only) = tokio::join!(futures_util::future::join_all(creates), during);
    assert!(
        memory_only < Duration::from_secs(1),
        "routes that need no database stay fast: {memory_only:?}"
    );
    let mut fast_refusals = 0;
    for (status, answer, elapsed) in &outcomes {
        assert!(
            *status == 201 || answer["error"]["code"] == "ServiceUnavailable",
            "{status} {answer}"
        );
        // Bounded: the acquire timeout, or the statements of the few that got a connection.
        assert!(*elapsed < Duration::from_secs(25), "{elapsed:?}");
        if *status == 503 && *elapsed < Duration::from_secs(2) {
            fast_refusals += 1;
        }
    }
    assert!(
        fast_refusals >= 8,
        "most callers are told at once: {outcomes:?}"
    );

    link.set_delay(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.post(&format!("/identities?{API}")).send().await;
        if response.status() == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "fast again without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
