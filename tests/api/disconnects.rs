//! Clients that give up half way: creates and deletions whose clients disconnect after a random
//! few hundred microseconds, mixed with ones that wait for their answer. A request the service
//! has started runs to its end, so a deletion's transaction is never stopped between its
//! statements; had one been, its connection would go back to the pool inside the transaction,
//! and the creates later run on it would be answered 201 and never committed. After a restart
//! (which rolls back anything left open), every acknowledged create is there, every
//! acknowledged deletion is gone, and nothing else happened to them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::*;

backend_tests!(abandoned_requests_lose_no_acknowledged_write);

/// How long the clients keep at it.
const LOAD: Duration = Duration::from_secs(4);
const WORKERS: usize = 8;

#[derive(Default)]
struct Outcome {
    /// Created, answered 201, never sent a deletion.
    kept: Vec<String>,
    /// Deletion answered 204.
    deleted: Vec<String>,
    /// Requests the client gave up on before their answer.
    abandoned: usize,
}

/// A cheap, varied delay per request: the time the client waits before giving up.
fn patience(worker: usize, turn: u32) -> Duration {
    let mixed = (worker as u64 + 1).wrapping_mul(2_654_435_761) ^ (u64::from(turn) * 40_503);
    Duration::from_micros(50 + mixed % 1_500)
}

async fn load(app: Arc<TestApp>, worker: usize, until: Instant, outcome: Arc<Mutex<Outcome>>) {
    let mut turn = 0u32;
    while Instant::now() < until {
        turn += 1;
        let id = app.create_identity().await;
        if turn.is_multiple_of(3) {
            outcome.lock().unwrap().kept.push(id);
            continue;
        }
        // Deleting runs a transaction (tombstone, then the row): abandon it part way.
        let deleting = app
            .signed(Method::DELETE, &identity_path(&id, ""))
            .try_send();
        match tokio::time::timeout(patience(worker, turn), deleting).await {
            Ok(Ok(response)) if response.status() == 204 => {
                outcome.lock().unwrap().deleted.push(id);
            }
            Ok(Ok(response)) => panic!("deleting {id}: {}", response.status()),
            Ok(Err(error)) => panic!("deleting {id}: {error}"),
            Err(_) => outcome.lock().unwrap().abandoned += 1,
        }
        // And a create abandoned part way: acknowledged or not, it must not break the others.
        let creating = app.post(&format!("/identities?{API}")).try_send();
        if tokio::time::timeout(patience(worker, turn + 1), creating)
            .await
            .is_err()
        {
            outcome.lock().unwrap().abandoned += 1;
        }
    }
}

async fn abandoned_requests_lose_no_acknowledged_write(app: TestApp) {
    let app = Arc::new(app.restart_with(&["--rate-limits", "off"]).await);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let until = Instant::now() + LOAD;
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| tokio::spawn(load(app.clone(), worker, until, outcome.clone())))
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let outcome = std::mem::take(&mut *outcome.lock().unwrap());
    eprintln!(
        "abandoned requests: {} kept creates, {} acknowledged deletions, {} abandoned",
        outcome.kept.len(),
        outcome.deleted.len(),
        outcome.abandoned
    );
    assert!(outcome.abandoned > 20, "clients gave up on enough requests");
    assert!(outcome.kept.len() > 20, "enough creates were acknowledged");

    // Let abandoned requests finish, then restart: whatever was left open is rolled back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = Arc::into_inner(app).expect("the workers are done");
    let app = app.restart_with(&["--rate-limits", "off"]).await;
    let mut missing = Vec::new();
    for id in &outcome.kept {
        let response = app.signed(Method::GET, &identity_path(id, "")).send().await;
        if response.status() != 200 {
            missing.push(format!("{id}: {}", response.status()));
        }
    }
    assert!(missing.is_empty(), "acknowledged creates lost: {missing:?}");
    let deleted: HashSet<&String> = outcome.deleted.iter().collect();
    for id in deleted {
        let response = app.signed(Method::GET, &identity_path(id, "")).send().await;
        assert_eq!(response.status(), 404, "{id} was deleted");
    }
}
