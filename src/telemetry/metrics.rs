//! Prometheus metrics through the `metrics` facade: every name Callsign records is here, named
//! and labelled as Prometheus conventions say (`_total` counters, `_seconds` histograms, base
//! units, bounded label values). The recorder is installed once per process; `/metrics`
//! renders it.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// HTTP requests by method, route template and status.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// HTTP request latency by method and route template.
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
const TOKENS_ISSUED: &str = "callsign_tokens_issued_total";
const REVOCATIONS: &str = "callsign_revocations_total";
const DELETIONS: &str = "callsign_identity_deletions_total";
const AUTH_FAILURES: &str = "callsign_authentication_failures_total";
const FEED_LAG: &str = "callsign_revocation_feed_lag_seconds";
const RESYNCS: &str = "callsign_resyncs_total";
const KNOWN_IDENTITY_LOOKUPS: &str = "callsign_known_identity_lookups_total";
const REVOCATION_CACHE_ENTRIES: &str = "callsign_revocation_cache_entries";
const DB_CONNECTIONS: &str = "callsign_db_pool_connections";
const DB_ERRORS: &str = "callsign_db_errors_total";
const RATE_LIMITED: &str = "callsign_rate_limited_total";
const AUDIT_WRITTEN: &str = "callsign_audit_events_written_total";
const AUDIT_DROPPED: &str = "callsign_audit_events_dropped_total";
const AUDIT_BACKPRESSURE: &str = "callsign_audit_backpressure_total";
const CLOCK_SKEW: &str = "callsign_clock_skew_seconds";
const OUTBOX_DISPATCHED: &str = "callsign_outbox_dispatched_total";
const GUESTS_PURGED: &str = "callsign_guests_purged_total";
const SIGNALS_QUEUED: &str = "callsign_ssf_events_queued_total";
const SIGNALS_DROPPED: &str = "callsign_ssf_events_dropped_total";
const SIGNALS_DELIVERED: &str = "callsign_ssf_events_delivered_total";
const SIGNALS_RETRIED: &str = "callsign_ssf_events_retried_total";
const SIGNALS_FAILED: &str = "callsign_ssf_events_failed_total";
const SIGNAL_LATENCY: &str = "callsign_ssf_push_latency_seconds";
const SIGNALS_WAITING: &str = "callsign_ssf_events_waiting";
const SIGNALS_OLDEST: &str = "callsign_ssf_oldest_event_age_seconds";
const BUILD_INFO: &str = "callsign_build_info";

/// Latency buckets from 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
/// The process's own figures (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds`, `process_max_fds`, `process_start_time_seconds`, …), read at each scrape.
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle; `None` if another
/// recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            PROCESS
                .get_or_init(metrics_process::Collector::default)
                .describe();
            gauge!(BUILD_INFO, "version" => super::VERSION, "commit" => super::COMMIT).set(1.0);
            // Present from the start at 0, so that `rate()` and `increase()` alerts see the
            // first event.
            for name in [
                REVOCATIONS,
                DELETIONS,
                AUDIT_WRITTEN,
                AUDIT_DROPPED,
                AUDIT_BACKPRESSURE,
                OUTBOX_DISPATCHED,
                GUESTS_PURGED,
                SIGNALS_QUEUED,
            ] {
                counter!(name).absolute(0);
            }
            Some(recorder)
        })
        .clone()
}

/// The HELP text of every family.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        "HTTP request latency in seconds, by method and route template."
    );
    describe_counter!(TOKENS_ISSUED, "Access tokens issued, by scope.");
    describe_counter!(REVOCATIONS, "Revocations of an identity's tokens.");
    describe_counter!(
        DELETIONS,
        "Identities deleted (by a backend, an erasure or the guest purge)."
    );
    describe_counter!(AUTH_FAILURES, "Callers refused, by reason.");
    describe_histogram!(
        FEED_LAG,
        "Seconds from a revocation's commit to this instance hearing of it."
    );
    describe_counter!(
        RESYNCS,
        "Resynchronisations of the revocation cache with the store, by outcome."
    );
    describe_counter!(
        KNOWN_IDENTITY_LOOKUPS,
        "Known-identity cache lookups, by hit or miss."
    );
    describe_gauge!(
        REVOCATION_CACHE_ENTRIES,
        "Revocations and deletions held in memory."
    );
    describe_gauge!(
        DB_CONNECTIONS,
        "Database pool connections, by idle or in use."
    );
    describe_counter!(DB_ERRORS, "Database errors, by kind.");
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit.");
    describe_counter!(AUDIT_WRITTEN, "Audit events written to the store.");
    describe_counter!(AUDIT_DROPPED, "Audit events that could not be written.");
    describe_counter!(
        AUDIT_BACKPRESSURE,
        "Requests refused because the audit trail was not keeping up."
    );
    describe_gauge!(
        CLOCK_SKEW,
        "Seconds this instance's clock is off the database's."
    );
    describe_counter!(
        OUTBOX_DISPATCHED,
        "Outbox rows taken and delivered by the post-commit dispatcher."
    );
    describe_counter!(
        GUESTS_PURGED,
        "Guest identities deleted once their tokens had all expired."
    );
    describe_counter!(
        SIGNALS_QUEUED,
        "Security events queued for the event streams."
    );
    describe_counter!(
        SIGNALS_DROPPED,
        "Security events not queued because their stream was full, by stream."
    );
    describe_counter!(
        SIGNALS_DELIVERED,
        "Security events a receiver has (pushed and accepted, or polled and acknowledged), by stream."
    );
    describe_counter!(
        SIGNALS_RETRIED,
        "Pushes of a security event that failed and will be tried again, by stream."
    );
    describe_counter!(
        SIGNALS_FAILED,
        "Security events given up (refused by the receiver, or past the retry time), by stream."
    );
    describe_histogram!(
        SIGNAL_LATENCY,
        "Seconds from a security event queued to its push accepted."
    );
    describe_gauge!(SIGNALS_WAITING, "Undelivered security events, by stream.");
    describe_gauge!(
        SIGNALS_OLDEST,
        "Age in seconds of a stream's oldest undelivered security event, by stream."
    );
    describe_gauge!(
        BUILD_INFO,
        "The running build: version and commit, as labels."
    );
}

/// Why a caller was refused: a small, fixed set of label values.
#[derive(Debug, Clone, Copy)]
pub enum AuthFailure {
    AccessKey,
    Bearer,
    ClientNotAllowed,
    Ambiguous,
    Password,
    RefreshToken,
    /// A signed key-administration request used a second time.
    Replayed,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            AuthFailure::AccessKey => "access_key",
            AuthFailure::Bearer => "bearer",
            AuthFailure::ClientNotAllowed => "client_not_allowed",
            AuthFailure::Ambiguous => "ambiguous",
            AuthFailure::Password => "password",
            AuthFailure::RefreshToken => "refresh_token",
            AuthFailure::Replayed => "replayed",
        }
    }
}

/// The handles of one label set, registered on first use: the hot path then only looks them
/// up, without building label sets or touching the registry.
type Handles<K, V> = OnceLock<RwLock<HashMap<K, V>>>;

/// `http_requests_total` and `http_request_duration_seconds` by method, then route, then
/// status (the duration has no status label, so one histogram serves every status).
type RequestHandles = HashMap<&'static str, HashMap<String, (Histogram, HashMap<u16, Counter>)>>;
static REQUEST_HANDLES: OnceLock<RwLock<RequestHandles>> = OnceLock::new();
static SCOPE_COUNTERS: Handles<&'static str, Counter> = OnceLock::new();

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn http_request(method: &'static str, route: &str, status: u16, took: Duration) {
    let handles = REQUEST_HANDLES.get_or_init(RwLock::default);
    let seconds = took.as_secs_f64();
    if let Some((histogram, counters)) = read(handles).get(method).and_then(|r| r.get(route))
        && let Some(counter) = counters.get(&status)
    {
        histogram.record(seconds);
        counter.increment(1);
        return;
    }
    let mut handles = write(handles);
    let (histogram, counters) = handles
        .entry(method)
        .or_default()
        .entry(route.to_owned())
        .or_insert_with(|| {
            let histogram =
                histogram!(HTTP_DURATION, "method" => method, "route" => route.to_owned());
            (histogram, HashMap::new())
        });
    histogram.record(seconds);
    counters
        .entry(status)
        .or_insert_with(|| {
            counter!(HTTP_REQUESTS, "method" => method, "route" => route.to_owned(), "status" => status.to_string())
        })
        .increment(1);
}

pub fn token_issued(scopes: impl Iterator<Item = &'static str>) {
    let handles = SCOPE_COUNTERS.get_or_init(RwLock::default);
    for scope in scopes {
        if let Some(counter) = read(handles).get(scope) {
            counter.increment(1);
            continue;
        }
        write(handles)
            .entry(scope)
            .or_insert_with(|| counter!(TOKENS_ISSUED, "scope" => scope))
            .increment(1);
    }
}

pub fn tokens_revoked() {
    counter!(REVOCATIONS).increment(1);
}

pub fn identities_deleted(count: usize) {
    counter!(DELETIONS).increment(count as u64);
}

pub fn authentication_failed(reason: AuthFailure) {
    counter!(AUTH_FAILURES, "reason" => reason.label()).increment(1);
}

/// A request refused by a rate limit (`caller`, `identity`, `address`).
pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// Audit rows appended to the store.
pub fn audit_written(rows: usize) {
    counter!(AUDIT_WRITTEN).increment(rows as u64);
}

/// Changes the post-commit dispatcher took from the outbox and delivered.
pub fn outbox_dispatched(events: usize) {
    counter!(OUTBOX_DISPATCHED).increment(events as u64);
}

/// Security events queued for the event streams.
pub fn signals_queued(events: usize) {
    counter!(SIGNALS_QUEUED).increment(events as u64);
}

/// A security event not queued: its stream held as many as it may.
pub fn signal_dropped(stream: &str) {
    counter!(SIGNALS_DROPPED, "stream" => stream.to_owned()).increment(1);
}

/// Security events a receiver has: pushed and accepted, or polled and acknowledged.
pub fn signals_delivered(stream: &str, events: u64) {
    counter!(SIGNALS_DELIVERED, "stream" => stream.to_owned()).increment(events);
}

/// Pushes that failed and will be tried again.
pub fn signals_retried(stream: &str, events: u64) {
    counter!(SIGNALS_RETRIED, "stream" => stream.to_owned()).increment(events);
}

/// Security events given up: refused by the receiver, or past the retry time.
pub fn signals_failed(stream: &str, events: u64) {
    counter!(SIGNALS_FAILED, "stream" => stream.to_owned()).increment(events);
}

/// From an event queued to its push accepted.
pub fn signal_latency(latency: Duration) {
    histogram!(SIGNAL_LATENCY).record(latency.as_secs_f64());
}

/// A stream's undelivered events and the age of the oldest.
pub fn signal_queue(stream: &str, waiting: i64, oldest_age: Duration) {
    gauge!(SIGNALS_WAITING, "stream" => stream.to_owned()).set(waiting as f64);
    gauge!(SIGNALS_OLDEST, "stream" => stream.to_owned()).set(oldest_age.as_secs_f64());
}

/// Guest identities deleted once their tokens had all expired.
pub fn guests_purged(count: usize) {
    counter!(GUESTS_PURGED).increment(count as u64);
}

/// An audit event dropped because the queue was full.
pub fn audit_dropped() {
    counter!(AUDIT_DROPPED).increment(1);
}

/// An issued token waited for room in the audit queue.
pub fn audit_backpressure() {
    counter!(AUDIT_BACKPRESSURE).increment(1);
}

/// This clock minus the database's, as last measured.
pub fn clock_skew(skew_ms: i64) {
    gauge!(CLOCK_SKEW).set(skew_ms as f64 / 1000.0);
}

/// How long after its commit a revocation from another instance arrived here.
pub fn revocation_feed_lag(lag: Duration) {
    histogram!(FEED_LAG).record(lag.as_secs_f64());
}

pub fn resync(succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    counter!(RESYNCS, "outcome" => outcome).increment(1);
}

/// Issuing for an identity this instance knew (a hit) or had to look up (a miss).
pub fn known_identity_lookup(hit: bool) {
    static HITS: OnceLock<[Counter; 2]> = OnceLock::new();
    let [miss, hit_counter] = HITS.get_or_init(|| {
        [
            counter!(KNOWN_IDENTITY_LOOKUPS, "result" => "miss"),
            counter!(KNOWN_IDENTITY_LOOKUPS, "result" => "hit"),
        ]
    });
    if hit { hit_counter } else { miss }.increment(1);
}

pub fn database_error(unavailable: bool) {
    let kind = if unavailable { "unavailable" } else { "other" };
    counter!(DB_ERRORS, "kind" => kind).increment(1);
}

/// Gauges read at scrape time.
pub fn snapshot(revocation_entries: usize, db_connections: (u32, usize)) {
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    gauge!(REVOCATION_CACHE_ENTRIES).set(revocation_entries as f64);
    let (size, idle) = db_connections;
    gauge!(DB_CONNECTIONS, "state" => "idle").set(idle as f64);
    gauge!(DB_CONNECTIONS, "state" => "in_use").set(f64::from(size) - idle as f64);
}
