//! `kill -9` under load: after a restart every acknowledged write is there, and no token of an
//! acknowledged revocation or deletion is active, on the restarted instance or on a second one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::*;
use crate::process::signal;

backend_tests!(killed_under_load_it_keeps_every_acknowledged_write);

/// What the load was told had happened.
#[derive(Default)]
struct Acknowledged {
    created: Vec<String>,
    /// Identity and a token issued before its revocation was acknowledged.
    revoked: Vec<(String, String)>,
    /// Identity and a token issued before its deletion was acknowledged.
    deleted: Vec<(String, String)>,
    /// Identities a deletion was sent for (acknowledged or not: the kill may cut the answer).
    delete_sent: Vec<String>,
}

/// Creates, issues, then revokes or deletes, noting what was acknowledged, until the server
/// dies (a request to a dead server panics this task, which is how it ends).
async fn load(app: Arc<TestApp>, until: Instant, acknowledged: Arc<Mutex<Acknowledged>>) {
    let mut turn = 0u32;
    while Instant::now() < until {
        turn += 1;
        let id = app.create_identity().await;
        acknowledged.lock().unwrap().created.push(id.clone());
        let token = app.token_for(&id).await;
        if turn.is_multiple_of(2) {
            if app.revoke(&id).await.status() == 204 {
                acknowledged.lock().unwrap().revoked.push((id, token));
            }
        } else {
            acknowledged.lock().unwrap().delete_sent.push(id.clone());
            let deleted = app
                .signed(Method::DELETE, &identity_path(&id, ""))
                .send()
                .await;
            if deleted.status() == 204 {
                acknowledged.lock().unwrap().deleted.push((id, token));
            }
        }
    }
}

async fn killed_under_load_it_keeps_every_acknowledged_write(app: TestApp) {
    let settings = app.settings.clone();
    let dir = app._dir.clone().expect("a data directory");
    drop(app);
    let shared = [
        "--endpoint",
        "https://callsign.test/",
        "--rate-limits",
        "off",
    ];
    let victim_app = Arc::new(spawn_process(&settings, dir.clone(), &shared).await);

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let until = Instant::now() + Duration::from_secs(30);
    let workers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(load(victim_app.clone(), until, acknowledged.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = victim_app.pid().expect("a process");
    signal(pid, "KILL");
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.created.len() > 10, "the load ran");
    // More than two creates of one worker: it saw a revocation and a deletion acknowledged.
    assert!(
        !acknowledged.revoked.is_empty() && !acknowledged.deleted.is_empty(),
        "tokens to check were left"
    );

    let restarted = spawn_process(&settings, dir.clone(), &shared).await;
    let second = spawn_process(&settings, dir.clone(), &shared).await;
    let gone: std::collections::HashSet<&str> = acknowledged
        .deleted
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    for id in &acknowledged.created {
        let response = restarted
            .signed(Method::GET, &identity_path(id, ""))
            .send()
            .await;
        let status = response.status().as_u16();
        if gone.contains(id.as_str()) {
            assert_eq!(status, 404, "{id}: its deletion was acknowledged");
        } else if acknowledged.delete_sent.contains(id) {
            // Deleted or not: the kill came while its deletion was in flight.
            assert!(matches!(status, 200 | 404), "{id}: {status}");
        } else {
            assert_eq!(status, 200, "{id}: its creation was acknowledged");
        }
    }
    for app in [&restarted, &second] {
        for (_, token) in acknowledged.revoked.iter().chain(&acknowledged.deleted) {
            assert!(
                !app.is_active(token).await,
                "a revoked or deleted identity's token is dead"
            );
        }
    }
    eprintln!(
        "acknowledged before kill -9: {} creates, {} revocations, {} deletions; all present after restart",
        acknowledged.created.len(),
        acknowledged.revoked.len(),
        acknowledged.deleted.len()
    );
}
