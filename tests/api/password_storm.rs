//! A storm of password sign-ins: 200 at once, from 200 client addresses (behind a trusted
//! proxy, so no per-address throttle steps in) on 20 accounts, against one server with the
//! default hashing bounds (4 hashes at once, 32 waiting). Peak memory stays bounded, every
//! sign-in is answered 201 or 503 `ServerBusy` with `Retry-After` (never a 500, never a hang),
//! a client that honours `Retry-After` gets in, and a backend issuing tokens meanwhile is not
//! slowed down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::app_client::PASSWORD;
use crate::helpers::*;
use crate::process::{peak_rss_kib, reset_peak_rss};

const SIGN_INS: usize = 200;
const ACCOUNTS: usize = 20;
/// No sign-in may wait longer, refused or not.
const ANSWER_BOUND: Duration = Duration::from_secs(10);
/// A well-behaved backend's p99 during the storm, with margin for a noisy 2-core machine.
const GOOD_P99_BOUND: Duration = Duration::from_millis(500);
/// The memory of the four hashing threads (19 MiB each, kept), and room for the connections.
const PEAK_GROWTH_BOUND_KIB: u64 = (4 * 19 + 32) * 1024;

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_storm_is_bounded_and_answered_sqlite() {
    a_sign_in_storm_is_bounded_and_answered(Backend::Sqlite).await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_storm_is_bounded_and_answered_postgres() {
    a_sign_in_storm_is_bounded_and_answered(Backend::Postgres).await;
}

/// How one sign-in of the storm ended.
struct Outcome {
    status: u16,
    retry_after: Option<u64>,
    took: Duration,
}

async fn a_sign_in_storm_is_bounded_and_answered(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let Some(settings) = ServerSettings::new(backend, dir.path()).await else {
        return;
    };
    let extra = ["--trusted-proxies", "127.0.0.1", "--rate-limits", "off"];
    let app = Arc::new(spawn_process(&settings, dir, &extra).await);
    let pid = app.pid().unwrap();
    let id = app.create_identity().await;
    for account in 0..ACCOUNTS {
        let created = app
            .create_account(&format!("user{account}"), PASSWORD)
            .await;
        assert_eq!(created.status(), 201);
    }
    // Measured once the accounts exist: creating them loads the password policy's list of common
    // passwords (a few MiB, once a process), which is not what the storm is about. The hashing
    // threads the storm wakes are.
    reset_peak_rss(pid);
    let baseline = peak_rss_kib(pid);

    let storm: Vec<_> = (0..SIGN_INS)
        .map(|i| tokio::spawn(sign_in(app.clone(), i)))
        .collect();
    let storming = Instant::now();
    let mut latencies = Vec::new();
    while storm.iter().any(|sign_in| !sign_in.is_finished()) {
        assert!(
            storming.elapsed() < 2 * ANSWER_BOUND,
            "the storm never ends"
        );
        let started = Instant::now();
        let issued = app.issue(&id, json!({ "scopes": ["chat"] })).await;
        assert_eq!(issued.status(), 200);
        latencies.push(started.elapsed());
    }
    let mut outcomes = Vec::new();
    for sign_in in storm {
        outcomes.push(sign_in.await.unwrap());
    }
    let grown_kib = peak_rss_kib(pid).saturating_sub(baseline);

    let admitted = outcomes.iter().filter(|o| o.status == 201).count();
    let busy: Vec<_> = outcomes.iter().filter(|o| o.status == 503).collect();
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "{SIGN_INS} concurrent sign-ins: {admitted} × 201, {} × 503 ServerBusy, slowest answer {slowest:.1?}; \
         a backend meanwhile: {} token issues, p99 {p99:.1?}; peak RSS +{} MiB over the idle server",
        busy.len(),
        latencies.len(),
        grown_kib / 1024
    );
    assert_eq!(admitted + busy.len(), SIGN_INS, "only 201 or 503");
    assert!(!busy.is_empty(), "past the queue, sign-ins are refused");
    assert!(busy.iter().all(|o| o.retry_after == Some(1)));
    assert!(slowest < ANSWER_BOUND, "{slowest:?}");
    assert!(p99 < GOOD_P99_BOUND, "p99 {p99:?}");
    assert!(
        grown_kib < PEAK_GROWTH_BOUND_KIB,
        "peak RSS grew {grown_kib} KiB"
    );

    // Refused sign-ins did not count as failures: honouring `Retry-After`, everyone gets in.
    let mut waiting: Vec<usize> = (0..SIGN_INS)
        .filter(|i| outcomes[*i].status == 503)
        .collect();
    for _wave in 0..30 {
        if waiting.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let retries: Vec<_> = waiting
            .iter()
            .map(|i| tokio::spawn(sign_in(app.clone(), *i)))
            .collect();
        let mut still = Vec::new();
        for (i, retry) in waiting.iter().zip(retries) {
            let outcome = retry.await.unwrap();
            assert!([201, 503].contains(&outcome.status), "{}", outcome.status);
            if outcome.status == 503 {
                still.push(*i);
            }
        }
        waiting = still;
    }
    assert!(waiting.is_empty(), "{} never got in", waiting.len());
}

/// Sign-in number `i`: account `i % ACCOUNTS` from its own client address.
async fn sign_in(app: Arc<TestApp>, i: usize) -> Outcome {
    let started = Instant::now();
    let response = app
        .client
        .post(format!("{}/v1/sessions", app.base))
        .header(
            "x-forwarded-for",
            format!("10.0.{}.{}", i / 250, i % 250 + 1),
        )
        .json(&json!({ "username": format!("user{}", i % ACCOUNTS), "password": PASSWORD }))
        .timeout(ANSWER_BOUND)
        .send()
        .await
        .expect("every sign-in is answered in time");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    match status {
        201 => {}
        503 => {
            assert_error(response, 503, "ServerBusy").await;
        }
        _ => panic!("sign-in {i}: {status} {}", body(response).await),
    }
    Outcome {
        status,
        retry_after,
        took: started.elapsed(),
    }
}
