//! SIGTERM in the middle of refresh rotations: sessions rotate their refresh tokens as fast as
//! they can, over kept-alive and fresh connections, when the server is told to stop. Every
//! rotation in flight completes or never happened: the refresh token each session was last
//! answered with is the one live token of its family in the store, and it works after a restart
//! on the same store. Several rounds, signalled at a different moment each time; exit 0 each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::app_client::*;
use crate::helpers::*;
use crate::process::signal;

backend_tests!(sigterm_mid_rotation_leaves_each_session_its_acknowledged_refresh_token);

const ROUNDS: u32 = 3;
const SESSIONS: usize = 8;

/// What one session's refresher saw in one round.
struct Rotations {
    /// The refresh token the last 200 returned.
    newest: String,
    acknowledged: usize,
    /// Sent before the signal, answered 200 after it.
    across_signal: usize,
    /// Statuses other than 200: each would be a session lost.
    unexpected: Vec<u16>,
    /// When the request that got no answer (the server gone) was sent.
    failed_at: Option<Instant>,
}

async fn sigterm_mid_rotation_leaves_each_session_its_acknowledged_refresh_token(app: TestApp) {
    let settings = app.settings.clone();
    let dir = app._dir.clone().expect("a data directory");
    drop(app);
    let extra = ["--rate-limits", "off"];
    let mut app = spawn_process(&settings, dir.clone(), &extra).await;
    let mut newest = Vec::new();
    for user in 0..2 {
        let name = format!("sleeper{user}");
        newest.push(text(&app.new_session(&name).await["refreshToken"]));
        while newest.len() < (user + 1) * SESSIONS / 2 {
            newest.push(text(
                &body(app.sign_in(&name, PASSWORD).await).await["refreshToken"],
            ));
        }
    }

    let (mut acknowledged, mut across_signal, mut refused) = (0, 0, 0);
    for round in 0..ROUNDS {
        let signalled = Arc::new(AtomicBool::new(false));
        let refreshers: Vec<_> = newest
            .iter()
            .enumerate()
            .map(|(index, token)| {
                // Half keep their connection alive, half open one per request.
                let client = if index % 2 == 0 {
                    app.client.clone()
                } else {
                    reqwest::Client::builder()
                        .pool_max_idle_per_host(0)
                        .build()
                        .unwrap_or_default()
                };
                let session = Arc::new(app.with_client(client));
                tokio::spawn(rotate_until_gone(session, token.clone(), signalled.clone()))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200 + 37 * u64::from(round))).await;
        let mut child = app._child.take().expect("a process");
        let at = Instant::now();
        signalled.store(true, Ordering::SeqCst);
        signal(child.id().expect("running"), "TERM");
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("exits within the drain time");
        let exited = at.elapsed();
        assert!(status.is_ok_and(|s| s.success()), "round {round}: exit 0");

        newest.clear();
        for refresher in refreshers {
            let rotations = refresher.await.expect("the refresher does not panic");
            assert!(
                rotations.unexpected.is_empty(),
                "round {round}: {:?}",
                rotations.unexpected
            );
            if let Some(failed) = rotations.failed_at {
                refused += 1;
                // A few ms of slack: the signal is sent just after the flag is set.
                assert!(
                    failed + Duration::from_millis(20) >= at,
                    "a request sent {:?} before the signal failed",
                    at - failed
                );
            }
            acknowledged += rotations.acknowledged;
            across_signal += rotations.across_signal;
            newest.push(rotations.newest);
        }
        assert_live_tokens_are(&settings.database_url, &newest).await;
        eprintln!("round {round}: exit {exited:?} after the signal");

        app = spawn_process(&settings, dir.clone(), &extra).await;
        for token in newest.iter_mut() {
            let rotated = app.refresh(token).await;
            assert_eq!(
                rotated.status(),
                200,
                "round {round}: an acknowledged refresh token is dead after the restart"
            );
            *token = text(&body(rotated).await["refreshToken"]);
        }
    }
    eprintln!(
        "{acknowledged} rotations acknowledged, {across_signal} of them in flight at a signal; {refused} requests refused after one"
    );
    assert!(across_signal > 0, "no rotation was in flight at a signal");
}

/// Rotates `token` until the server goes away; any answer but 200 is noted.
async fn rotate_until_gone(
    app: Arc<TestApp>,
    token: String,
    signalled: Arc<AtomicBool>,
) -> Rotations {
    let mut rotations = Rotations {
        newest: token,
        acknowledged: 0,
        across_signal: 0,
        unexpected: Vec::new(),
        failed_at: None,
    };
    loop {
        let sent = Instant::now();
        let before_signal = !signalled.load(Ordering::SeqCst);
        let request = app
            .client
            .post(format!("{}/v1/sessions/refresh", app.base))
            .json(&serde_json::json!({ "refreshToken": rotations.newest }))
            .send()
            .await;
        let response = match request {
            Ok(response) => response,
            Err(_) => {
                rotations.failed_at = Some(sent);
                return rotations;
            }
        };
        if response.status() != 200 {
            rotations.unexpected.push(response.status().as_u16());
            return rotations;
        }
        // The answer is read whole before it counts: a cut body is no acknowledgement.
        let Ok(rotated) = response.json::<serde_json::Value>().await else {
            rotations.failed_at = Some(sent);
            return rotations;
        };
        rotations.newest = text(&rotated["refreshToken"]);
        rotations.acknowledged += 1;
        if before_signal && signalled.load(Ordering::SeqCst) {
            rotations.across_signal += 1;
        }
    }
}

/// Reads the store the server left: in every family exactly one unspent refresh token, and it
/// is the one its session was last answered with.
async fn assert_live_tokens_are(database_url: &str, newest: &[String]) {
    const TWICE_LIVE: &str = "SELECT COUNT(*) FROM (SELECT family_id FROM refresh_tokens \
         WHERE spent_at_ms IS NULL GROUP BY family_id HAVING COUNT(*) > 1) half_rotated";
    const LIVE: &str = "SELECT hash FROM refresh_tokens WHERE spent_at_ms IS NULL";
    let (half_rotated, mut live): (i64, Vec<Vec<u8>>) = on_store!(database_url, |db| (
        sqlx::query_scalar(TWICE_LIVE)
            .fetch_one(&mut db)
            .await
            .expect("count"),
        sqlx::query_scalar(LIVE)
            .fetch_all(&mut db)
            .await
            .expect("live tokens"),
    ));
    assert_eq!(half_rotated, 0, "a family has two live refresh tokens");
    let mut acknowledged: Vec<Vec<u8>> = newest
        .iter()
        .map(|token| Sha256::digest(token.as_bytes()).to_vec())
        .collect();
    live.sort();
    acknowledged.sort();
    assert!(
        live == acknowledged,
        "the live refresh tokens are not the acknowledged ones"
    );
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
