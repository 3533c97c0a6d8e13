//! A stream as stored and as shown: the receiver's wishes kept as JSON with its authorization
//! header sealed apart, the configuration object a receiver reads back (SSF §8.1.1), and the
//! subjects Callsign's events name.

use serde_json::{Value, json};

use super::stream::{Delivery, POLL, PUSH, Settings, Status, Wishes, events_supported};
use super::transmitter::{POLL_PATH, StreamView};
use super::{SignalError, Transmitter};
use crate::store::StreamRecord;
use crate::vocabulary::{AppUserId, IdentityId, SignalSubject};

/// What a stream's sealed authorization header is bound to.
pub(super) fn authorization_aad(stream_id: &str) -> Vec<u8> {
    format!("callsign:{stream_id}:stream-authorization").into_bytes()
}

impl Transmitter {
    /// Callsign's subjects: an identity as its tokens name it (`iss_sub`), an app user by its
    /// id (`opaque`).
    pub(super) fn subject_key(&self, subject: &Value) -> Result<String, SignalError> {
        let field = |name: &str| subject.get(name).and_then(Value::as_str);
        let unknown = || {
            SignalError::Invalid(format!(
                "subject must be {{\"format\":\"iss_sub\",\"iss\":\"{}\",\"sub\":\"8:acs:…\"}} \
                 (an identity, 8:acs:… or 8:orgid:…) or {{\"format\":\"opaque\",\"id\":\"<app user id>\"}}",
                self.issuer
            ))
        };
        let signal_subject = match field("format") {
            Some("iss_sub") if field("iss") == Some(self.issuer.as_str()) => {
                let raw = field("sub").ok_or_else(unknown)?;
                let id = IdentityId::parse(raw, &self.resource).map_err(|_| unknown())?;
                SignalSubject::Identity(id)
            }
            Some("opaque") => {
                let user = field("id").and_then(AppUserId::parse).ok_or_else(unknown)?;
                SignalSubject::AppUser(user)
            }
            _ => return Err(unknown()),
        };
        signal_subject.key().ok_or_else(unknown)
    }

    pub(super) fn record(
        &self,
        id: &str,
        owner: &str,
        wishes: &Wishes,
        aud: Option<String>,
        now_ms: i64,
    ) -> Result<StreamRecord, SignalError> {
        // The audience is where the SETs go (or are fetched from): what the receiver knows.
        let aud = aud.unwrap_or_else(|| match &wishes.delivery {
            Delivery::Push { endpoint_url } => endpoint_url.clone(),
            Delivery::Poll => self.url(&format!("{POLL_PATH}/{id}")),
        });
        let settings = Settings {
            aud,
            events_requested: wishes.events_requested.clone(),
            delivery: wishes.delivery.clone(),
            description: wishes.description.clone(),
        };
        let authorization_sealed = wishes
            .authorization
            .as_ref()
            .map(|value| {
                self.master
                    .seal(value.as_bytes(), &authorization_aad(id))
                    .map_err(|e| SignalError::Internal(e.to_string()))
            })
            .transpose()?;
        let events_delivered: Vec<&str> = settings
            .events_delivered()
            .iter()
            .map(|kind| kind.uri())
            .collect();
        Ok(StreamRecord {
            id: id.to_owned(),
            owner: owner.to_owned(),
            config: serde_json::to_string(&settings)
                .map_err(|e| SignalError::Internal(e.to_string()))?,
            authorization_sealed,
            method: settings.delivery.method().to_owned(),
            events_delivered: events_delivered.join(" "),
            status: Status::Enabled.as_str().to_owned(),
            reason: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            failing_since_ms: None,
        })
    }

    pub(super) fn settings_of(&self, record: &StreamRecord) -> Result<Settings, SignalError> {
        serde_json::from_str(&record.config).map_err(|e| {
            SignalError::Internal(format!("stream {} is stored unreadably: {e}", record.id))
        })
    }

    pub(super) fn wishes_of(&self, record: &StreamRecord) -> Result<Wishes, SignalError> {
        let settings = self.settings_of(record)?;
        let authorization = record
            .authorization_sealed
            .as_ref()
            .map(|sealed| {
                self.master
                    .open(sealed, &authorization_aad(&record.id))
                    .map_err(|e| SignalError::Internal(e.to_string()))
                    .and_then(|bytes| {
                        String::from_utf8(bytes).map_err(|e| SignalError::Internal(e.to_string()))
                    })
            })
            .transpose()?;
        Ok(Wishes {
            events_requested: settings.events_requested,
            delivery: settings.delivery,
            authorization,
            description: settings.description,
        })
    }

    /// The stream configuration object (SSF §8.1.1). The receiver's authorization header is
    /// never sent back.
    pub(super) fn view(&self, record: &StreamRecord) -> Result<StreamView, SignalError> {
        let settings = self.settings_of(record)?;
        let delivery = match &settings.delivery {
            Delivery::Push { endpoint_url } => {
                json!({"method": PUSH, "endpoint_url": endpoint_url})
            }
            Delivery::Poll => json!({
                "method": POLL,
                "endpoint_url": self.url(&format!("{POLL_PATH}/{}", record.id)),
            }),
        };
        let delivered: Vec<&str> = settings
            .events_delivered()
            .iter()
            .map(|kind| kind.uri())
            .collect();
        let mut config = json!({
            "stream_id": record.id,
            "iss": self.issuer,
            "aud": settings.aud,
            "events_supported": events_supported(),
            "events_requested": settings.events_requested,
            "events_delivered": delivered,
            "delivery": delivery,
        });
        if let (Some(description), Some(fields)) = (&settings.description, config.as_object_mut()) {
            fields.insert("description".into(), json!(description));
        }
        Ok(StreamView { config })
    }
}
