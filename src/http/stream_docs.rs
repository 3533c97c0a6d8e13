//! The stream routes' request bodies as the OpenAPI document describes them: each handler reads
//! its body as the transmitter's own type (`StreamRequest`, `PollRequest`), which ignores what
//! it does not know, as SSF's extensibility asks; these say what each field is.

use utoipa::ToSchema;

/// How a stream's events are delivered (SSF §6.1), as documented.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: the body is read as `StreamRequest`"
)]
pub struct DeliverySchema {
    #[schema(pattern = "^urn:ietf:rfc:(8935|8936)$")]
    method: String,
    /// Push: the receiver's URL, https (http on a loopback address). Poll: ignored (the
    /// stream is polled at Callsign's URL, given back in `delivery`).
    endpoint_url: Option<String>,
    /// Push: sent as `Authorization` with every SET.
    authorization_header: Option<String>,
}

/// The receiver-supplied properties of a stream (SSF §8.1.1), as documented.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: the body is read as `StreamRequest`"
)]
pub struct StreamSchema {
    /// Event type URIs; those Callsign does not support are ignored.
    events_requested: Option<Vec<String>>,
    /// Without it, the stream is polled.
    delivery: Option<DeliverySchema>,
    description: Option<String>,
}

/// An update or replacement: the stream, and the receiver-supplied properties.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: the body is read as `StreamRequest`"
)]
pub struct StreamUpdateSchema {
    stream_id: String,
    events_requested: Option<Vec<String>>,
    delivery: Option<DeliverySchema>,
    description: Option<String>,
}

/// A SET a receiver refused (RFC 8936 §2.4).
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: the body is read as `PollRequest`"
)]
pub struct SetErrorSchema {
    err: String,
    description: Option<String>,
}

/// A poll (RFC 8936 §2.2), as documented.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "documentation only: the body is read as `PollRequest`"
)]
pub struct PollSchema {
    #[schema(minimum = 0, maximum = 2147483647)]
    max_events: Option<i32>,
    return_immediately: Option<bool>,
    /// `jti`s of SETs received.
    ack: Option<Vec<String>>,
    /// `jti` → why it was refused.
    set_errs: Option<std::collections::BTreeMap<String, SetErrorSchema>>,
}
