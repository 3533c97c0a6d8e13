//! SIGTERM under load: requests already in flight complete, new connections are refused, the
//! pending `lastTokenIssuedAt` times and audit events are written, and the process exits 0
//! within the drain time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::*;
use crate::process::signal;

backend_tests!(sigterm_drains_in_flight_requests_and_flushes_pending_writes);

/// When a request was sent, and whether it got a 2xx.
type Outcome = (Instant, Result<u16, String>);

async fn sigterm_drains_in_flight_requests_and_flushes_pending_writes(app: TestApp) {
    let settings = app.settings.clone();
    let dir = app._dir.clone().expect("a data directory");
    drop(app);
    let mut app = spawn_process(&settings, dir.clone(), &["--rate-limits", "off"]).await;
    let id = app.create_identity().await;
    // A new connection per request: whether it was accepted before the signal is then the
    // request's own fate, not a pooled connection's.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let load = Arc::new(app.with_client(client));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (load, outcomes, id) = (load.clone(), outcomes.clone(), id.clone());
            tokio::spawn(async move {
                loop {
                    let sent = Instant::now();
                    // Revoking waits out the commit wait: every call is in flight for ~20 ms.
                    let result = load
                        .signed(Method::POST, &identity_path(&id, "/:revokeAccessTokens"))
                        .try_send()
                        .await
                        .map(|response| response.status().as_u16())
                        .map_err(|error| error.to_string());
                    let failed = result.is_err();
                    outcomes.lock().unwrap().push((sent, result));
                    if failed {
                        break;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Only in memory until a flush: the shutdown must write it.
    app.token_for(&id).await;
    let signalled = Instant::now();
    let mut child = app._child.take().expect("a process");
    signal(child.id().unwrap(), "TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the drain time")
        .unwrap();
    let exited = Instant::now();
    assert!(status.success(), "exit status {status:?}");
    for worker in workers {
        worker.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let completed = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    assert!(completed > 10, "the load ran: {completed} requests");
    for (sent, result) in &outcomes {
        match result {
            Ok(status) => assert_eq!(*status, 204, "in-flight requests complete"),
            // Refused: sent once the listener had closed (a few ms of slack for the signal).
            Err(error) => assert!(
                *sent + Duration::from_millis(20) >= signalled,
                "a request sent {:?} before the signal failed: {error}",
                signalled - *sent
            ),
        }
    }
    assert!(
        outcomes.iter().any(|(_, r)| r.is_err()),
        "connections after the signal are refused"
    );
    eprintln!(
        "{completed} requests completed, exit {:?} after the signal",
        exited - signalled
    );

    let restarted = spawn_process(&settings, dir, &[]).await;
    let identity = body(
        restarted
            .signed(Method::GET, &identity_path(&id, ""))
            .send()
            .await,
    )
    .await;
    assert!(
        identity["lastTokenIssuedAt"].is_string(),
        "the time of the token issued just before the signal was written: {identity}"
    );
}
