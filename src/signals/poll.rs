//! Poll delivery (RFC 8936): the receiver POSTs to its stream's poll URL, acknowledging what it
//! has (`ack`) and reporting what it refused (`setErrs`); it gets the oldest unacknowledged
//! SETs, up to `maxEvents`, which come back on every poll until acknowledged. Without
//! `returnImmediately` an empty poll waits (long polling) until an event is queued or the wait
//! runs out.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::is_callsign_id;
use super::stream::Status;
use super::{SignalError, Transmitter};
use crate::store::QueuedEvent;
use crate::telemetry::metrics;
use crate::text::escaped;

/// The most SETs one answer carries, whatever `maxEvents` says.
const MAX_PER_POLL: u32 = 1000;
/// A long poll looks again this often for events queued by other instances.
const RECHECK: Duration = Duration::from_millis(250);

/// A SET the receiver refused, as it reports it.
#[derive(Debug, Deserialize)]
pub struct SetError {
    pub err: String,
    pub description: Option<String>,
}

/// The poll request (RFC 8936 §2.2).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollRequest {
    /// A JSON integer (`5`, or `5.0`, as JSON Schema counts integers).
    pub max_events: Option<f64>,
    pub return_immediately: Option<bool>,
    pub ack: Option<Vec<String>>,
    pub set_errs: Option<BTreeMap<String, SetError>>,
}

impl Transmitter {
    /// Answers a poll: `{"sets": {jti: SET}, "moreAvailable": bool}`.
    pub async fn poll(
        &self,
        owner: &str,
        id: &str,
        request: &PollRequest,
    ) -> Result<Value, SignalError> {
        let stream = self.owned(owner, id).await?;
        // A push stream has no poll endpoint.
        if stream.method != "poll" {
            return Err(SignalError::NotFound);
        }
        let wanted = match request.max_events {
            None => MAX_PER_POLL,
            Some(n) if n.fract() == 0.0 && (0.0..=f64::from(i32::MAX)).contains(&n) => {
                (n as u32).min(MAX_PER_POLL)
            }
            Some(_) => {
                return Err(SignalError::Invalid(
                    "maxEvents must be an integer from 0 to 2147483647".into(),
                ));
            }
        };
        let ack = jtis(request.ack.iter().flatten());
        let acknowledged = self.store.acknowledge_stream_events(id, &ack).await?;
        if acknowledged > 0 {
            metrics::signals_delivered(id, acknowledged);
        }
        if let Some(set_errs) = request.set_errs.as_ref().filter(|errs| !errs.is_empty()) {
            let refused = jtis(set_errs.keys());
            let forgotten = self.store.acknowledge_stream_events(id, &refused).await?;
            for (jti, error) in set_errs {
                tracing::warn!(
                    stream = %id,
                    jti = %escaped(jti),
                    err = %escaped(&error.err),
                    description = %escaped(error.description.as_deref().unwrap_or("")),
                    "a receiver refused a security event token"
                );
            }
            metrics::signals_failed(id, forgotten);
        }
        if wanted == 0 || stream.status != Status::Enabled.as_str() {
            return Ok(json!({ "sets": {} }));
        }
        let deadline = tokio::time::Instant::now() + self.settings.poll_wait;
        let events = loop {
            // One more than wanted tells whether more are available.
            let events = self.store.pending_stream_events(id, wanted + 1).await?;
            let now = tokio::time::Instant::now();
            if !events.is_empty() || request.return_immediately == Some(true) || now >= deadline {
                break events;
            }
            let queued = self.queued.notified();
            let _ = tokio::time::timeout(RECHECK.min(deadline - now), queued).await;
        };
        let more = events.len() > wanted as usize;
        let mut sets = Map::new();
        for event in events.iter().take(wanted as usize) {
            if let Some(set) = self.set_of(event, &stream).await? {
                sets.insert(event.jti.clone(), json!(set));
            } else {
                unreadable(event);
            }
        }
        let mut answer = json!({ "sets": sets });
        if more && let Some(fields) = answer.as_object_mut() {
            fields.insert("moreAvailable".into(), json!(true));
        }
        Ok(answer)
    }
}

/// The `jti`s that could be Callsign's (32 hex digits); others name no SET of this stream.
fn jtis<'a>(named: impl Iterator<Item = &'a String>) -> Vec<String> {
    named.filter(|jti| is_callsign_id(jti)).cloned().collect()
}

fn unreadable(event: &QueuedEvent) {
    tracing::warn!(
        stream = %event.stream_id,
        jti = %event.jti,
        "a queued event of a newer version was skipped"
    );
}
