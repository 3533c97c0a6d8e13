//! Push delivery (RFC 8935): each due event of an enabled push stream is POSTed to the
//! receiver's URL as `application/secevent+jwt`, with the stream's `Authorization` header.
//! 202 (any 2xx) delivers it; a 400 with an RFC 8935 error body is the receiver refusing that
//! SET for good (counted, logged, dropped); anything else (5xx, another status, a timeout, a
//! refused connection) is retried with exponential backoff and jitter until the retry time runs
//! out. Events are claimed in the store for a while before they are sent, so of several
//! instances one sends each; one that dies mid-delivery leaves the claim to run out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{SignalError, Transmitter};
use crate::store::{QueuedEvent, StreamRecord};
use crate::telemetry::metrics;
use crate::text::escaped;

/// The most events claimed at once.
const BATCH: u32 = 200;
/// How long a claim keeps other instances off an event: past the send timeout.
const LEASE: Duration = Duration::from_secs(30);
/// One POST, answer included.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often due retries and other instances' events are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The first retry waits about this long; each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// An RFC 8935 §2.3 error body.
#[derive(Deserialize)]
struct Refusal {
    err: String,
    description: Option<String>,
}

enum Outcome {
    Delivered,
    Refused(String),
    Failed(String),
}

pub struct PushDelivery {
    transmitter: Arc<Transmitter>,
    http: reqwest::Client,
}

impl PushDelivery {
    pub fn new(transmitter: Arc<Transmitter>) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(SEND_TIMEOUT)
            .user_agent(concat!("callsign/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &transmitter.settings.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("CALLSIGN_SSF_CA_FILE {}: {e}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(PushDelivery {
            transmitter,
            http: builder.build()?,
        })
    }

    /// Delivers until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let queued = self.transmitter.queued_signal();
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let woken = queued.notified();
            self.deliver_due().await;
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = woken => {}
                _ = sweep.tick() => {}
            }
        }
    }

    /// Sends every due event, a batch at a time; each stream's events in order.
    pub async fn deliver_due(&self) {
        loop {
            let now_ms = self.transmitter.clock.now_ms();
            let lease_until = now_ms + LEASE.as_millis() as i64;
            let events = match self
                .transmitter
                .store
                .claim_push_events(now_ms, lease_until, BATCH)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "claiming events to push failed; retrying shortly");
                    return;
                }
            };
            let claimed = events.len();
            let mut by_stream: BTreeMap<String, Vec<QueuedEvent>> = BTreeMap::new();
            for event in events {
                by_stream
                    .entry(event.stream_id.clone())
                    .or_default()
                    .push(event);
            }
            let sends = by_stream
                .into_iter()
                .map(|(stream_id, events)| self.deliver_stream(stream_id, events));
            futures_util::future::join_all(sends).await;
            if claimed < BATCH as usize {
                return;
            }
        }
    }

    async fn deliver_stream(&self, stream_id: String, events: Vec<QueuedEvent>) {
        let stream = match self.transmitter.store.stream(&stream_id).await {
            Ok(Some(stream)) => stream,
            // Deleted meanwhile: its events went with it.
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, stream = %stream_id, "reading a stream to push to failed");
                return;
            }
        };
        // Where, and with what authorization: read (and unsealed) once for the batch.
        let target = self
            .transmitter
            .push_target(&stream)
            .map_err(|error| error.to_string());
        for event in events {
            let outcome = match &target {
                Err(why) => Outcome::Failed(why.clone()),
                Ok(None) => Outcome::Refused("the stream no longer delivers by push".into()),
                Ok(Some((url, authorization))) => self
                    .send(&event, &stream, url, authorization.as_deref())
                    .await
                    .unwrap_or_else(|error| Outcome::Failed(error.to_string())),
            };
            if let Err(error) = self.settle(&event, &stream, outcome).await {
                tracing::warn!(%error, stream = %stream_id, "recording a push outcome failed");
            }
        }
    }

    async fn send(
        &self,
        event: &QueuedEvent,
        stream: &StreamRecord,
        url: &str,
        authorization: Option<&str>,
    ) -> Result<Outcome, SignalError> {
        let Some(set) = self.transmitter.set_of(event, stream).await? else {
            return Ok(Outcome::Refused("queued by a newer version".into()));
        };
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/secevent+jwt")
            .header(ACCEPT, "application/json")
            .body(set);
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Ok(Outcome::Failed(without_url(&error))),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(Outcome::Delivered);
        }
        if status == reqwest::StatusCode::BAD_REQUEST {
            let body = response.bytes().await.unwrap_or_default();
            if let Ok(refusal) = serde_json::from_slice::<Refusal>(&body) {
                return Ok(Outcome::Refused(format!(
                    "{}: {}",
                    escaped(&refusal.err),
                    escaped(refusal.description.as_deref().unwrap_or(""))
                )));
            }
        }
        Ok(Outcome::Failed(format!("answered {status}")))
    }

    async fn settle(
        &self,
        event: &QueuedEvent,
        stream: &StreamRecord,
        outcome: Outcome,
    ) -> Result<(), SignalError> {
        let store = &self.transmitter.store;
        let now_ms = self.transmitter.clock.now_ms();
        match outcome {
            Outcome::Delivered => {
                store.forget_stream_event(event.id).await?;
                metrics::signals_delivered(&stream.id, 1);
                metrics::signal_latency(Duration::from_millis(
                    u64::try_from(now_ms - event.created_at_ms).unwrap_or(0),
                ));
                if stream.failing_since_ms.is_some() {
                    store.note_delivery(&stream.id, None).await?;
                }
            }
            Outcome::Refused(why) => {
                store.forget_stream_event(event.id).await?;
                metrics::signals_failed(&stream.id, 1);
                tracing::warn!(stream = %stream.id, jti = %event.jti, reason = %why,
                    "the receiver refused a security event token; it is not sent again");
            }
            Outcome::Failed(why) => {
                store.note_delivery(&stream.id, Some(now_ms)).await?;
                let retry_for = self.transmitter.settings.retry_for.as_millis() as i64;
                if now_ms - event.created_at_ms >= retry_for {
                    store.forget_stream_event(event.id).await?;
                    metrics::signals_failed(&stream.id, 1);
                    tracing::error!(stream = %stream.id, jti = %event.jti, attempts = event.attempts,
                        reason = %why, "a security event token was dropped after retrying for the whole retry time");
                } else {
                    let next_ms = now_ms + backoff(event.attempts).as_millis() as i64;
                    store.retry_stream_event(event.id, next_ms).await?;
                    metrics::signals_retried(&stream.id, 1);
                    tracing::info!(stream = %stream.id, jti = %event.jti, attempts = event.attempts,
                        reason = %why, "pushing a security event token failed; it is retried");
                }
            }
        }
        Ok(())
    }
}

/// The wait before the next attempt, after `attempts` attempts: doubling from
/// [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], each taken at random from its second half (jitter),
/// so receivers recovering from an outage are not hit by every retry at once.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let full = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let jitter = getrandom::fill(&mut byte).map_or(0.5, |()| f64::from(byte[0]) / 255.0);
    full.mul_f64(0.5 + jitter / 2.0)
}

/// A client error, without the URL (it may carry a receiver's secret in its query).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the request {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_bounded() {
        for attempts in 1..40 {
            let wait = backoff(attempts);
            let full = FIRST_BACKOFF
                .saturating_mul(2u32.saturating_pow(u32::try_from(attempts - 1).unwrap().min(16)))
                .min(MAX_BACKOFF);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
        }
        assert!(backoff(1) <= Duration::from_secs(1));
        assert!(backoff(30) >= MAX_BACKOFF / 2);
    }
}
