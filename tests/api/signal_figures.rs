//! The event transmitter's figures, measured in every test run and printed (docs/development/benchmarks.md's
//! "Consuming services" table comes from them): from a revocation's answer to its SET arriving
//! at a push receiver, on one instance of each store and across two instances on one
//! PostgreSQL; and a receiver that answers 500 for 30 seconds, then recovers. Speed is reported,
//! not asserted; what is asserted is that every SET arrives, once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::process::spawn_process;
use crate::ssf_receiver::*;

const REVOCATIONS: usize = 200;

backend_tests!(revocation_to_push_latency_on_one_instance);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One revocation's instants: request sent, answer read, SET arrived.
struct Timing {
    sent: Instant,
    answered: Instant,
    arrived: Instant,
}

fn millis(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).as_secs_f64() * 1000.0
}

/// Reports, over the revocations, when each SET arrived counted from the revoking request and
/// from its answer (the answer waits out the commit wait; the SET is queued at the commit, so it
/// usually arrives first).
fn report(what: &str, timings: &[Timing]) {
    let mut to_set: Vec<Duration> = timings.iter().map(|t| t.arrived - t.sent).collect();
    let mut to_answer: Vec<Duration> = timings.iter().map(|t| t.answered - t.sent).collect();
    let mut after_answer: Vec<Duration> = timings
        .iter()
        .map(|t| t.arrived.saturating_duration_since(t.answered))
        .collect();
    for list in [&mut to_set, &mut to_answer, &mut after_answer] {
        list.sort();
    }
    let first = timings.iter().filter(|t| t.arrived <= t.answered).count();
    println!(
        "figure: {what}, {} revocations: request → SET p50 {:.2} ms p99 {:.2} ms; request → \
         answer p50 {:.2} ms p99 {:.2} ms; SET after the answer p99 {:.2} ms ({first} SETs \
         arrived before their answer)",
        timings.len(),
        millis(&to_set, 0.5),
        millis(&to_set, 0.99),
        millis(&to_answer, 0.5),
        millis(&to_answer, 0.99),
        millis(&after_answer, 0.99),
    );
}

async fn push_stream(app: &TestApp, transmitter: &Transmitter, receiver: &Receiver) -> Value {
    let created = send_json(
        app,
        Method::POST,
        &transmitter.path(app, "configuration_endpoint"),
        &json!({
            "events_requested": [SESSION_REVOKED],
            "delivery": {"method": PUSH, "endpoint_url": receiver.url,
                         "authorization_header": RECEIVER_SECRET},
        }),
    )
    .await;
    assert_eq!(created.status(), 201);
    body(created).await
}

/// Revokes each identity on the instance `on` names, one at a time, and times its SET.
async fn measure(
    instances: &[&TestApp],
    transmitter: &Transmitter,
    stream: &Value,
    receiver: &mut Receiver,
) -> Vec<Timing> {
    let mut ids = Vec::new();
    for round in 0..REVOCATIONS {
        ids.push(instances[round % instances.len()].create_identity().await);
    }
    let mut latencies = Vec::new();
    for (round, id) in ids.iter().enumerate() {
        let instance = instances[round % instances.len()];
        let sent = Instant::now();
        assert_eq!(instance.revoke(id).await.status(), 204);
        let answered = Instant::now();
        let (arrived, set) = receiver.next_timed(Duration::from_secs(10)).await;
        let set = transmitter.verify(&set, stream);
        latencies.push(Timing {
            sent,
            answered,
            arrived,
        });
        assert_eq!(set["sub_id"]["sub"], id.as_str(), "in order, one each");
    }
    latencies
}

async fn revocation_to_push_latency_on_one_instance(app: TestApp) {
    let backend = if app.settings.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let app = app.restart_with(&["--rate-limits", "off"]).await;
    let transmitter = Transmitter::discover(&app).await;
    let mut receiver = Receiver::start(0).await;
    let stream = push_stream(&app, &transmitter, &receiver).await;
    let latencies = measure(&[&app], &transmitter, &stream, &mut receiver).await;
    report(&format!("push, one instance, {backend}"), &latencies);
}

#[tokio::test]
async fn revocation_to_push_latency_across_two_instances() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let Some(settings) = ServerSettings::new(Backend::Postgres, dir.path()).await else {
        return;
    };
    let shared = [
        "--endpoint",
        "https://callsign.test/",
        "--resource-id",
        "ssf-figures",
        "--rate-limits",
        "off",
    ];
    let a = spawn_process(&settings, dir.clone(), &shared).await;
    let b = spawn_process(&settings, dir.clone(), &shared).await;
    let transmitter = Transmitter::discover_at(&a, "https://callsign.test/").await;
    let mut receiver = Receiver::start(0).await;
    let stream = push_stream(&a, &transmitter, &receiver).await;
    // Each SET arrives once, in order (`measure`), and no copy follows.
    let latencies = measure(&[&a, &b], &transmitter, &stream, &mut receiver).await;
    receiver.nothing_for(Duration::from_millis(1500)).await;
    report(
        "push, two instances on PostgreSQL (revoking on each in turn)",
        &latencies,
    );
}

/// A receiver that answers 500 for 30 s, while 20 revocations happen, then recovers: every SET
/// arrives, once, and the retries are counted.
#[tokio::test]
async fn a_receiver_down_for_thirty_seconds_gets_every_set() {
    const OUTAGE: Duration = Duration::from_secs(30);
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite");
    let transmitter = Transmitter::discover(&app).await;
    let mut receiver = Receiver::failing_for(OUTAGE).await;
    let stream = push_stream(&app, &transmitter, &receiver).await;
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let id = app.create_identity().await;
        assert_eq!(app.revoke(&id).await.status(), 204);
        ids.push(id);
        tokio::time::sleep(OUTAGE / 25).await;
    }
    let mut per_subject: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..ids.len() {
        let set = transmitter.verify(&receiver.next(Duration::from_secs(120)).await, &stream);
        *per_subject
            .entry(set["sub_id"]["sub"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let recovered = started.elapsed();
    receiver.nothing_for(Duration::from_millis(500)).await;
    for id in &ids {
        assert_eq!(per_subject.get(id), Some(&1), "{id}: {per_subject:?}");
    }
    println!(
        "figure: receiver down 30 s: all {} SETs arrived {:.1} s after the first revocation, \
         after {} refused attempts",
        ids.len(),
        recovered.as_secs_f64(),
        receiver.refused()
    );
}
