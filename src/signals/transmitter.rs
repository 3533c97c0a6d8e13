//! The transmitter's use cases (SSF 1.0 §8): streams created, read, updated, replaced and
//! deleted by the backend that owns them; their status; subjects removed and added back;
//! verification. Every change is audited.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::is_callsign_id;
use super::key_ring::EventKeyRing;
use super::set::{SetContext, claims};
use super::stream::{Delivery, Status, StreamRequest, wishes};
use super::{SignalError, SignalSettings};
use crate::audit::{Action, Audit, AuditEvent};
use crate::clock::SharedClock;
use crate::keys::MasterKeys;
use crate::store::{QueuedEvent, Store, StreamRecord};
use crate::vocabulary::{ResourceId, Signal};

/// Paths under the endpoint.
pub const CONFIGURATION_PATH: &str = "ssf/streams";
pub const STATUS_PATH: &str = "ssf/status";
pub const ADD_SUBJECT_PATH: &str = "ssf/subjects:add";
pub const REMOVE_SUBJECT_PATH: &str = "ssf/subjects:remove";
pub const VERIFICATION_PATH: &str = "ssf/verify";
pub const POLL_PATH: &str = "ssf/poll";
pub const JWKS_PATH: &str = "ssf/jwks.json";

/// A stream as a receiver sees it (its authorization header never in it).
#[derive(Debug)]
pub struct StreamView {
    pub config: Value,
}

pub struct Transmitter {
    pub(super) store: Arc<dyn Store>,
    pub(super) keys: Arc<EventKeyRing>,
    pub(super) master: MasterKeys,
    pub(super) issuer: String,
    pub(super) resource: ResourceId,
    pub(super) clock: SharedClock,
    audit: Arc<Audit>,
    /// Notified whenever events were queued on this instance: wakes the push deliveries and
    /// long polls.
    pub(super) queued: Arc<Notify>,
    pub(super) settings: SignalSettings,
}

impl Transmitter {
    #[allow(
        clippy::too_many_arguments,
        reason = "wired once, in the composition root"
    )]
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<EventKeyRing>,
        master: MasterKeys,
        issuer: String,
        resource: ResourceId,
        clock: SharedClock,
        audit: Arc<Audit>,
        settings: SignalSettings,
    ) -> Self {
        Transmitter {
            store,
            keys,
            master,
            issuer,
            resource,
            clock,
            audit,
            queued: Arc::new(Notify::new()),
            settings,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn keys(&self) -> &EventKeyRing {
        &self.keys
    }

    /// What wakes the deliveries: events were queued.
    pub fn queued_signal(&self) -> Arc<Notify> {
        self.queued.clone()
    }

    /// Exports each stream's undelivered events and the age of its oldest.
    pub async fn report_queues(&self) {
        match self.store.queue_depths().await {
            Ok(depths) => {
                let now_ms = self.clock.now_ms();
                for depth in depths {
                    let age_ms = depth.oldest_ms.map_or(0, |oldest| now_ms - oldest);
                    crate::telemetry::metrics::signal_queue(
                        &depth.stream_id,
                        depth.queued,
                        std::time::Duration::from_millis(u64::try_from(age_ms).unwrap_or(0)),
                    );
                }
            }
            Err(error) => tracing::debug!(%error, "cannot read the event queues"),
        }
    }

    /// An absolute URL under the endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.issuer.trim_end_matches('/'))
    }

    /// SSF §8.1.1.1: a new stream, enabled, carrying every subject.
    pub async fn create(
        &self,
        owner: &str,
        request: &StreamRequest,
    ) -> Result<StreamView, SignalError> {
        let wishes = wishes(request, None).map_err(SignalError::Invalid)?;
        // The first stream is when a deployment first needs its SET-signing key.
        self.keys.jwks().await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now_ms = self.clock.now_ms();
        let record = self.record(&id, owner, &wishes, None, now_ms)?;
        self.store.create_stream(&record).await?;
        self.audited(
            Action::StreamCreated,
            &id,
            json!({ "method": record.method }),
        );
        self.view(&record)
    }

    /// Every stream of `owner`.
    pub async fn list(&self, owner: &str) -> Result<Vec<StreamView>, SignalError> {
        self.store
            .streams_of(owner)
            .await?
            .iter()
            .map(|record| self.view(record))
            .collect()
    }

    pub async fn get(&self, owner: &str, id: &str) -> Result<StreamView, SignalError> {
        self.view(&self.owned(owner, id).await?)
    }

    /// SSF §8.1.1.3 (update: what is not named stays) and §8.1.1.4 (replace: what is not named
    /// goes back to its default). Transmitter-supplied properties sent back must be unchanged.
    pub async fn update(
        &self,
        owner: &str,
        request: &StreamRequest,
        replace: bool,
    ) -> Result<StreamView, SignalError> {
        let id = request
            .stream_id
            .as_deref()
            .ok_or_else(|| SignalError::Invalid("stream_id is required".into()))?;
        let existing = self.owned(owner, id).await?;
        let current = self.view(&existing)?.config;
        for name in ["iss", "aud", "events_supported", "events_delivered"] {
            let sent = match name {
                "iss" => &request.iss,
                "aud" => &request.aud,
                "events_supported" => &request.events_supported,
                _ => &request.events_delivered,
            };
            if sent
                .as_ref()
                .is_some_and(|value| Some(value) != current.get(name))
            {
                return Err(SignalError::Invalid(format!(
                    "{name} is set by the transmitter and cannot be changed"
                )));
            }
        }
        let base = self.wishes_of(&existing)?;
        let wishes = wishes(request, (!replace).then_some(&base)).map_err(SignalError::Invalid)?;
        let aud = self.settings_of(&existing)?.aud;
        let record = self.record(id, owner, &wishes, Some(aud), self.clock.now_ms())?;
        if !self.store.update_stream(&record).await? {
            return Err(SignalError::NotFound);
        }
        self.audited(
            Action::StreamUpdated,
            id,
            json!({ "method": record.method }),
        );
        self.view(&StreamRecord {
            status: existing.status,
            reason: existing.reason,
            created_at_ms: existing.created_at_ms,
            failing_since_ms: existing.failing_since_ms,
            ..record
        })
    }

    pub async fn delete(&self, owner: &str, id: &str) -> Result<(), SignalError> {
        if !is_callsign_id(id) || !self.store.delete_stream(id, owner).await? {
            return Err(SignalError::NotFound);
        }
        self.audited(Action::StreamDeleted, id, json!({}));
        Ok(())
    }

    /// SSF §8.1.2.1: the status, and why (a stream whose deliveries keep failing says since
    /// when).
    pub async fn status(&self, owner: &str, id: &str) -> Result<Value, SignalError> {
        let stream = self.owned(owner, id).await?;
        let reason = match (stream.failing_since_ms, &stream.reason) {
            (Some(since), _) => Some(format!(
                "deliveries have failed since {} (unix ms {since}); events are retried",
                crate::clock::from_millis(since)
                    .and_then(|at| at
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok())
                    .unwrap_or_default()
            )),
            (None, reason) => reason.clone(),
        };
        Ok(status_answer(&stream.id, &stream.status, reason))
    }

    /// SSF §8.1.2.2: paused streams hold their events, disabled ones drop them.
    pub async fn set_status(
        &self,
        owner: &str,
        id: &str,
        status: Status,
        reason: Option<&str>,
    ) -> Result<Value, SignalError> {
        self.owned(owner, id).await?;
        // Free text for people: kept short, and without control characters (PostgreSQL cannot
        // store NUL in text, and a reason is echoed in logs and answers).
        let reason = reason.map(|text| {
            text.chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect::<String>()
        });
        let now_ms = self.clock.now_ms();
        if !self
            .store
            .set_stream_status(id, status.as_str(), reason.as_deref(), now_ms)
            .await?
        {
            return Err(SignalError::NotFound);
        }
        self.audited(
            Action::StreamStatusChanged,
            id,
            json!({ "status": status.as_str() }),
        );
        if status == Status::Enabled {
            // Held events may go now.
            self.queued.notify_waiters();
        }
        Ok(status_answer(id, status.as_str(), reason))
    }

    /// SSF §8.1.3.3: the subject's events no longer reach this stream.
    pub async fn remove_subject(
        &self,
        owner: &str,
        id: &str,
        subject: &Value,
    ) -> Result<(), SignalError> {
        self.owned(owner, id).await?;
        let key = self.subject_key(subject)?;
        self.store
            .exclude_stream_subject(id, &key, &subject.to_string())
            .await?;
        self.audited(Action::StreamSubjectRemoved, id, json!({ "subject": key }));
        Ok(())
    }

    /// SSF §8.1.3.2: a subject removed before is carried again (every other subject is
    /// carried already: `default_subjects` is `ALL`).
    pub async fn add_subject(
        &self,
        owner: &str,
        id: &str,
        subject: &Value,
    ) -> Result<(), SignalError> {
        self.owned(owner, id).await?;
        let key = self.subject_key(subject)?;
        if self.store.include_stream_subject(id, &key).await? {
            self.audited(Action::StreamSubjectAdded, id, json!({ "subject": key }));
        }
        Ok(())
    }

    /// SSF §8.1.4.2: queues a verification event echoing `state`.
    pub async fn verify(
        &self,
        owner: &str,
        id: &str,
        state: Option<String>,
    ) -> Result<(), SignalError> {
        self.owned(owner, id).await?;
        let now_ms = self.clock.now_ms();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let signal = Signal::verification(state, now_ms);
        if !self
            .store
            .queue_stream_event(id, &jti, &signal, now_ms)
            .await?
        {
            return Err(SignalError::Full);
        }
        self.queued.notify_waiters();
        Ok(())
    }

    /// The signed SET of a queued event for `stream`; `None` for an event this version cannot
    /// read.
    pub(super) async fn set_of(
        &self,
        event: &QueuedEvent,
        stream: &StreamRecord,
    ) -> Result<Option<String>, SignalError> {
        let Some(signal) = Signal::decode(&event.signal) else {
            return Ok(None);
        };
        let settings = self.settings_of(stream)?;
        let context = SetContext {
            issuer: &self.issuer,
            resource: &self.resource,
            stream_id: &stream.id,
            aud: &settings.aud,
            jti: &event.jti,
            queued_at_ms: event.created_at_ms,
        };
        Ok(Some(self.keys.sign(&claims(&signal, &context)).await?))
    }

    /// A push stream's endpoint and authorization header.
    pub(super) fn push_target(
        &self,
        stream: &StreamRecord,
    ) -> Result<Option<(String, Option<String>)>, SignalError> {
        let wishes = self.wishes_of(stream)?;
        Ok(match wishes.delivery {
            Delivery::Push { endpoint_url } => Some((endpoint_url, wishes.authorization)),
            Delivery::Poll => None,
        })
    }

    pub(super) async fn owned(&self, owner: &str, id: &str) -> Result<StreamRecord, SignalError> {
        if !is_callsign_id(id) {
            return Err(SignalError::NotFound);
        }
        self.store
            .find_stream(id, owner)
            .await?
            .ok_or(SignalError::NotFound)
    }

    fn audited(&self, action: Action, stream_id: &str, mut details: Value) {
        if let Some(fields) = details.as_object_mut() {
            fields.insert("streamId".into(), json!(stream_id));
        }
        self.audit
            .record(AuditEvent::about_app_user(action, None).with_details(details));
    }
}

/// A stream's status as SSF §8.1.2 answers it: `stream_id`, `status`, and `reason` if any.
fn status_answer(id: &str, status: &str, reason: Option<String>) -> Value {
    let mut answer = json!({ "stream_id": id, "status": status });
    if let (Some(reason), Some(fields)) = (reason, answer.as_object_mut()) {
        fields.insert("reason".into(), json!(reason));
    }
    answer
}
