//! The session gateway example (`examples/session_gateway.rs`) in front of a real Callsign: it
//! opens WebSocket sessions for tokens it introspects, and closes an identity's sessions when
//! Callsign pushes the revocation (SSF), leaving everyone else's open.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::*;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SESSIONS: usize = 100;
/// How many of them are revoked, one at a time.
const REVOKED: usize = 20;

/// Tokens the gateway introspects (HS256).
#[tokio::test]
async fn revoking_an_identity_closes_its_sockets_within_seconds_and_no_others() {
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    sessions_end_when_revoked(&app, "introspected (HS256)").await;
}

/// Tokens the gateway verifies offline with the published keys (ES256); tokens issued before
/// its stream began are introspected still.
#[tokio::test]
async fn with_tokens_verified_offline_too() {
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
        .restart_with(&["--token-algorithm", "ES256"])
        .await;
    let id = app.create_identity().await;
    let early = app.token_for(&id).await;
    sessions_end_when_revoked(&app, "verified offline (ES256)").await;
    // A token from before the gateway's stream, revoked before the gateway started, is refused:
    // the gateway asks Callsign about it.
    assert_eq!(app.revoke(&id).await.status(), 204);
    let (_gateway, address) = start_gateway(&app).await;
    let refused = connect(&address, &early).await.err();
    assert!(
        matches!(&refused, Some(Error::Http(response)) if response.status() == 401),
        "{refused:?}"
    );
}

async fn sessions_end_when_revoked(app: &TestApp, tokens: &str) {
    let (_gateway, address) = start_gateway(app).await;
    // Tokens issued from the next second on are after the gateway's stream began.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let mut sessions = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let id = app.create_identity().await;
        let token = app.token_for(&id).await;
        let mut socket = connect(&address, &token)
            .await
            .expect("an active token opens a socket");
        assert_eq!(next_text(&mut socket).await, format!("welcome {id}"));
        sessions.push((id, token, socket));
    }

    // Identities revoked one at a time: each one's socket gets a Close frame with 4001 within
    // seconds; its token opens no new socket.
    let mut latencies = Vec::new();
    for _ in 0..REVOKED {
        let (id, token, mut socket) = sessions.pop().unwrap();
        assert_eq!(app.revoke(&id).await.status(), 204);
        let answered = Instant::now();
        let code = tokio::time::timeout(Duration::from_secs(5), close_code(&mut socket))
            .await
            .expect("the revoked identity's socket closes within 5 s");
        latencies.push(answered.elapsed());
        assert_eq!(code, Some(4001), "closed with the revoked code");
        let refused = connect(&address, &token).await.err();
        assert!(
            matches!(&refused, Some(Error::Http(response)) if response.status() == 401),
            "{refused:?}"
        );
    }
    latencies.sort();
    println!(
        "figure: revoke answered → the gateway's socket closed, tokens {tokens}: p50 {:.2} ms, \
         p99 {:.2} ms over {REVOKED} revocations ({} sockets open)",
        latencies[REVOKED / 2].as_secs_f64() * 1000.0,
        latencies[REVOKED * 99 / 100].as_secs_f64() * 1000.0,
        SESSIONS
    );

    // Everyone else's socket is still open and answering.
    for (id, _, socket) in &mut sessions {
        socket.send(Message::text("ping")).await.unwrap();
        assert_eq!(next_text(socket).await, "ping", "{id}'s socket");
    }
}

/// Starts the example (built beside this test binary) against `app`; returns it, killed on
/// drop, and the address it serves.
async fn start_gateway(app: &TestApp) -> (Child, String) {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test binary>");
    let binary = profile_dir
        .join("examples")
        .join(format!("session_gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: `cargo test` builds the examples; else `cargo build --example \
         session_gateway`",
        binary.display()
    );
    let mut gateway = Command::new(&binary)
        .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
        .env("CALLSIGN_CA_FILE", &app.trust_file)
        .env("GATEWAY_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the gateway");
    let mut lines = BufReader::new(gateway.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the gateway starts within 30 s")
        .unwrap()
        .expect("the gateway prints its address before it exits");
    let address = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not the gateway's address: {line:?}"))
        .to_owned();
    // Whatever else it prints is read, so it never writes to a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (gateway, address)
}

async fn connect(address: &str, token: &str) -> Result<Socket, Error> {
    let url = format!("ws://{address}/ws?token={token}");
    let (socket, _) = tokio_tungstenite::connect_async(url).await?;
    Ok(socket)
}

/// The next text message, within 10 s.
async fn next_text(socket: &mut Socket) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s");
        match message {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the socket closes; the code of its Close frame, if it sent one.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}
