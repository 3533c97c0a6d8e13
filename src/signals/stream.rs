//! An event stream's configuration (SSF 1.0 §8.1.1) and the rules for what a receiver may set:
//! `events_requested`, `delivery` and `description` are the receiver's; every other property is
//! the transmitter's, and a receiver that sends one back must send it unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::oidc::check_url;
use crate::vocabulary::EventKind;

pub const PUSH: &str = "urn:ietf:rfc:8935";
pub const POLL: &str = "urn:ietf:rfc:8936";

/// The longest push URL, authorization header and description accepted.
const MAX_URL: usize = 2048;
const MAX_AUTHORIZATION: usize = 4096;
const MAX_DESCRIPTION: usize = 1000;
const MAX_EVENTS_REQUESTED: usize = 64;

/// A stream's status (SSF §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Events are sent.
    Enabled,
    /// Events are held, and sent once enabled.
    Paused,
    /// Nothing is sent or held.
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Paused => "paused",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Status> {
        [Status::Enabled, Status::Paused, Status::Disabled]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// The `delivery` object a receiver sends.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeliveryRequest {
    pub method: Option<String>,
    pub endpoint_url: Option<String>,
    pub authorization_header: Option<String>,
}

/// A stream configuration as a receiver sends it (create, update, replace). Fields Callsign
/// does not know are ignored, as SSF's extensibility asks.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamRequest {
    pub stream_id: Option<String>,
    pub iss: Option<Value>,
    pub aud: Option<Value>,
    pub events_supported: Option<Value>,
    pub events_requested: Option<Vec<String>>,
    pub events_delivered: Option<Value>,
    pub delivery: Option<DeliveryRequest>,
    pub description: Option<String>,
}

/// How a stream's events reach its receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// RFC 8935: POSTed to the receiver's URL.
    Push { endpoint_url: String },
    /// RFC 8936: the receiver polls Callsign.
    Poll,
}

impl Delivery {
    pub fn method(&self) -> &'static str {
        match self {
            Delivery::Push { .. } => "push",
            Delivery::Poll => "poll",
        }
    }
}

/// What a stream keeps of its receiver's wishes (the authorization header is kept apart,
/// sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub aud: String,
    pub events_requested: Vec<String>,
    pub delivery: Delivery,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Settings {
    /// The events delivered: those requested that Callsign supports, in its order.
    pub fn events_delivered(&self) -> Vec<EventKind> {
        EventKind::REQUESTABLE
            .into_iter()
            .filter(|kind| self.events_requested.iter().any(|uri| uri == kind.uri()))
            .collect()
    }
}

/// Every event type a receiver may request.
pub fn events_supported() -> Vec<&'static str> {
    EventKind::REQUESTABLE
        .iter()
        .map(|kind| kind.uri())
        .collect()
}

/// What the receiver asked for, checked: the delivery, its authorization header (if any).
#[derive(Debug, Clone)]
pub struct Wishes {
    pub events_requested: Vec<String>,
    pub delivery: Delivery,
    pub authorization: Option<String>,
    pub description: Option<String>,
}

/// Checks the receiver-supplied properties of a request. Missing ones come from `base` (an
/// update) or take their defaults (creation, replacement: no delivery means poll).
pub fn wishes(request: &StreamRequest, base: Option<&Wishes>) -> Result<Wishes, String> {
    let events_requested = match (&request.events_requested, base) {
        (Some(events), _) => {
            if events.len() > MAX_EVENTS_REQUESTED {
                return Err(format!(
                    "events_requested may name at most {MAX_EVENTS_REQUESTED} event types"
                ));
            }
            events.clone()
        }
        (None, Some(base)) => base.events_requested.clone(),
        (None, None) => Vec::new(),
    };
    let (delivery, authorization) = match (&request.delivery, base) {
        (Some(delivery), _) => delivery_of(delivery)?,
        (None, Some(base)) => (base.delivery.clone(), base.authorization.clone()),
        (None, None) => (Delivery::Poll, None),
    };
    let description = match (&request.description, base) {
        (Some(text), _) => Some(text.chars().take(MAX_DESCRIPTION).collect()),
        (None, Some(base)) => base.description.clone(),
        (None, None) => None,
    };
    Ok(Wishes {
        events_requested,
        delivery,
        authorization,
        description,
    })
}

fn delivery_of(request: &DeliveryRequest) -> Result<(Delivery, Option<String>), String> {
    match request.method.as_deref() {
        Some(PUSH) => {
            let url = request
                .endpoint_url
                .as_deref()
                .ok_or("push delivery (urn:ietf:rfc:8935) needs the receiver's endpoint_url")?;
            if url.len() > MAX_URL {
                return Err(format!("endpoint_url may be at most {MAX_URL} characters"));
            }
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| format!("endpoint_url is not an absolute URL: {e}"))?;
            if parsed.host_str().is_none() || !parsed.username().is_empty() {
                return Err("endpoint_url must name a host, and no user".into());
            }
            check_url("endpoint_url", url)?;
            let authorization = match &request.authorization_header {
                Some(value) => {
                    let printable = value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
                    if value.is_empty() || value.len() > MAX_AUTHORIZATION || !printable {
                        return Err(format!(
                            "authorization_header must be 1 to {MAX_AUTHORIZATION} printable \
                             ASCII characters"
                        ));
                    }
                    Some(value.clone())
                }
                None => None,
            };
            Ok((
                Delivery::Push {
                    endpoint_url: url.to_owned(),
                },
                authorization,
            ))
        }
        // The poll URL is Callsign's: whatever a receiver sent as endpoint_url is not used.
        Some(POLL) => Ok((Delivery::Poll, None)),
        None => Err("delivery.method is required".into()),
        Some(other) => Err(format!(
            "delivery method '{}' is not supported; use {PUSH} (push) or {POLL} (poll)",
            crate::text::escaped(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: Value) -> StreamRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn no_delivery_means_poll_and_nothing_requested_delivers_nothing() {
        let wishes = wishes(&request(json!({})), None).unwrap();
        assert_eq!(wishes.delivery, Delivery::Poll);
        assert!(wishes.events_requested.is_empty());
    }

    #[test]
    fn push_urls_are_https_except_on_loopback() {
        let push = |url: &str| {
            wishes(
                &request(json!({"delivery": {"method": PUSH, "endpoint_url": url}})),
                None,
            )
        };
        assert!(push("https://receiver.example/events").is_ok());
        assert!(push("http://127.0.0.1:9000/events").is_ok());
        assert!(push("http://[::1]:9000/events").is_ok());
        assert!(push("http://receiver.example/events").is_err());
        assert!(push("https://user@receiver.example/").is_err());
        assert!(push("/relative").is_err());
        let missing = wishes(&request(json!({"delivery": {"method": PUSH}})), None);
        assert!(missing.unwrap_err().contains("endpoint_url"));
        let unknown = wishes(&request(json!({"delivery": {"method": "urn:x"}})), None);
        assert!(unknown.unwrap_err().contains("not supported"));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let base = wishes(
            &request(json!({
                "events_requested": [EventKind::SessionRevoked.uri()],
                "delivery": {"method": PUSH, "endpoint_url": "https://r.example/",
                             "authorization_header": "Bearer abc"},
                "description": "chat",
            })),
            None,
        )
        .unwrap();
        let updated = wishes(&request(json!({"description": "calls"})), Some(&base)).unwrap();
        assert_eq!(updated.events_requested, base.events_requested);
        assert_eq!(updated.delivery, base.delivery);
        assert_eq!(updated.authorization.as_deref(), Some("Bearer abc"));
        assert_eq!(updated.description.as_deref(), Some("calls"));
        let bad_header = wishes(
            &request(
                json!({"delivery": {"method": PUSH, "endpoint_url": "https://r.example/",
                                         "authorization_header": "a\nb"}}),
            ),
            None,
        );
        assert!(bad_header.is_err());
    }

    #[test]
    fn only_supported_events_requested_are_delivered() {
        let settings = Settings {
            aud: "a".into(),
            events_requested: vec![
                "urn:unknown".into(),
                EventKind::CredentialChange.uri().into(),
                EventKind::SessionRevoked.uri().into(),
            ],
            delivery: Delivery::Poll,
            description: None,
        };
        assert_eq!(
            settings.events_delivered(),
            [EventKind::SessionRevoked, EventKind::CredentialChange]
        );
    }
}
