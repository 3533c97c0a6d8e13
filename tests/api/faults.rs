//! The database going away: issued tokens keep validating from memory, writes answer 503 quickly,
//! readiness reports it, and everything recovers without a restart. The outage is a TCP proxy
//! in front of PostgreSQL that the test switches off and on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::helpers::*;

struct Proxy {
    address: String,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (up_flag, tracked) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_flag.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let target = target.clone();
                tracked.lock().await.push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy {
            address,
            up,
            connections,
        }
    }

    async fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().await.drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with host:port replaced; and the original host:port.
pub fn via(url: &str, address: &str) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    (
        format!("{scheme_user}@{address}/{path}"),
        authority.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_keeps_tokens_validating_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut settings) = ServerSettings::new(Backend::Postgres, dir.path()).await else {
        return;
    };
    let target = via(&settings.database_url, "x").1;
    let proxy = Proxy::start(target).await;
    settings.database_url = via(&settings.database_url, &proxy.address).0;
    let app = spawn_app_with(
        settings,
        dir,
        &[
            "--db-acquire-timeout-ms",
            "1000",
            "--ready-without-database-secs",
            "3",
        ],
    )
    .await;

    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    let probe = |app: &TestApp, path: &str| {
        let request = app.client.get(format!("{}{path}", app.base));
        async move { request.send().await.unwrap() }
    };
    let ready = |app: &TestApp| {
        let probing = probe(app, "/readyz");
        async move { probing.await.status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);

    proxy.down().await;
    assert!(
        app.is_active(&token).await,
        "issued tokens validate from memory"
    );
    for _ in 0..2 {
        let started = Instant::now();
        let response = app.revoke(&id).await;
        assert_error(response, 503, "ServiceUnavailable").await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "503 quickly: {:?}",
            started.elapsed()
        );
    }
    let create = app.post(&format!("/identities?{API}")).send().await;
    assert_error(create, 503, "ServiceUnavailable").await;
    // Issuing for a known identity needs no database.
    let issue = app.issue(&id, json!({ "scopes": ["chat"] })).await;
    assert_eq!(issue.status(), 200, "issuing from memory during the outage");
    // Readiness is the resync's verdict: the next one finds the database gone. The instance
    // stays in rotation, serving from memory, for the configured while; then it is not ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe(&app, "/readyz/database").await.status() != 503 {
        assert!(
            Instant::now() < deadline,
            "the database probe sees the outage"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let serving: Value = probe(&app, "/readyz").await.json().await.unwrap();
    assert_eq!(
        serving,
        json!({"status": "ready", "database": "unreachable"}),
        "ready from memory early in the outage"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&app).await != 503 {
        assert!(
            Instant::now() < deadline,
            "not ready once the outage outlasts CALLSIGN_READY_WITHOUT_DATABASE_SECS"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let message = assert_error(probe(&app, "/readyz").await, 503, "NotReady").await;
    assert!(
        message.contains("CALLSIGN_READY_WITHOUT_DATABASE_SECS"),
        "{message}"
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(app.is_active(&token).await, "still valid during the outage");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(&app).await != 200 {
        assert!(
            Instant::now() < deadline,
            "ready again after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.revoke(&id).await.status(), 204);
    assert!(!app.is_active(&token).await);
    assert_eq!(
        app.issue(&id, json!({ "scopes": ["chat"] })).await.status(),
        200
    );
}
