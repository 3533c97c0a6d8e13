//! A queued event written as the claims of a Security Event Token (RFC 8417, SSF 1.0 §4):
//! `iss`, `aud` (the stream's), `iat`, `jti`, a top-level `sub_id` (RFC 9493), one event in
//! `events`, and `txn`; never `sub` or `exp`.
//!
//! Subjects: an identity is `iss_sub` with the very `iss` and `sub` of its access tokens, so a
//! service holding sessions matches a SET to them without a lookup; an app user is `opaque`
//! with its id (as `/v1/users/{id}` names it); the deployment as a whole (an access key
//! regenerated) is `uri` with the tokens' issuer; the stream itself (verification) is `opaque`
//! with the stream id, as SSF requires.

use serde_json::{Value, json};

use crate::vocabulary::{EventKind, ResourceId, Signal, SignalSubject};

/// What a SET is written from, besides the signal.
pub struct SetContext<'a> {
    pub issuer: &'a str,
    pub resource: &'a ResourceId,
    pub stream_id: &'a str,
    pub aud: &'a str,
    pub jti: &'a str,
    pub queued_at_ms: i64,
}

fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The subject identifier of a signal.
pub fn sub_id(subject: &SignalSubject, context: &SetContext<'_>) -> Value {
    match subject {
        SignalSubject::Identity(id) => json!({
            "format": "iss_sub",
            "iss": context.issuer,
            "sub": id.to_raw(context.resource),
        }),
        SignalSubject::AppUser(user) => json!({"format": "opaque", "id": user.to_string()}),
        SignalSubject::Resource(_) => json!({"format": "uri", "uri": context.issuer}),
        SignalSubject::Stream => json!({"format": "opaque", "id": context.stream_id}),
    }
}

/// The event's payload.
fn payload(signal: &Signal) -> Value {
    let at = seconds(signal.at_ms);
    match (signal.kind, &signal.subject) {
        (EventKind::SessionRevoked, SignalSubject::Resource(slot)) => json!({
            "event_timestamp": at,
            "initiating_entity": "admin",
            "reason_admin": {"en": format!(
                "The {slot} access key was regenerated: every token signed under it before \
                 event_timestamp is revoked."
            )},
        }),
        (EventKind::SessionRevoked, _) => json!({"event_timestamp": at}),
        (EventKind::AccountPurged, _) => json!({}),
        (EventKind::CredentialChange, _) => json!({
            "credential_type": "password",
            "change_type": "update",
            "event_timestamp": at,
        }),
        (EventKind::Verification, _) => match &signal.detail {
            Some(state) => json!({"state": state}),
            None => json!({}),
        },
    }
}

/// The SET's claims.
pub fn claims(signal: &Signal, context: &SetContext<'_>) -> Value {
    let mut claims = json!({
        "iss": context.issuer,
        "aud": context.aud,
        "iat": seconds(context.queued_at_ms),
        "jti": context.jti,
        "sub_id": sub_id(&signal.subject, context),
        "events": { signal.kind.uri(): payload(signal) },
    });
    if let (Some(txn), Some(fields)) = (&signal.txn, claims.as_object_mut()) {
        fields.insert("txn".into(), json!(txn));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{Change, IdentityId, KeySlot, Revocation};

    #[test]
    fn an_identity_s_revocation_names_its_tokens_iss_and_sub() {
        let resource = ResourceId::parse("res").unwrap();
        let id = IdentityId::generate();
        let signals = Signal::of(
            &Change::Revocation(Revocation::Deleted { id }),
            1_700_000_000_999,
        );
        let context = SetContext {
            issuer: "https://callsign.example/",
            resource: &resource,
            stream_id: "s1",
            aud: "https://receiver.example/events",
            jti: "j1",
            queued_at_ms: 1_700_000_001_000,
        };
        let revoked = claims(&signals[0], &context);
        assert_eq!(revoked["iss"], "https://callsign.example/");
        assert_eq!(revoked["aud"], "https://receiver.example/events");
        assert_eq!(revoked["iat"], 1_700_000_001);
        assert_eq!(revoked["jti"], "j1");
        assert_eq!(
            revoked["sub_id"],
            json!({"format": "iss_sub", "iss": "https://callsign.example/",
                   "sub": id.to_raw(&resource)})
        );
        let events = revoked["events"].as_object().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[EventKind::SessionRevoked.uri()],
            json!({"event_timestamp": 1_700_000_000})
        );
        assert!(revoked.get("sub").is_none() && revoked.get("exp").is_none());
        let purged = claims(&signals[1], &context);
        assert_eq!(purged["events"][EventKind::AccountPurged.uri()], json!({}));
        assert_eq!(purged["txn"], revoked["txn"]);
        assert!(revoked["txn"].is_string());

        let regenerated = Signal::of(
            &Change::AccessKeyRegenerated {
                slot: KeySlot::Primary,
                at_ms: 5_000,
            },
            0,
        );
        let set = claims(&regenerated[0], &context);
        assert_eq!(
            set["sub_id"],
            json!({"format": "uri", "uri": "https://callsign.example/"})
        );
        assert_eq!(
            set["events"][EventKind::SessionRevoked.uri()]["event_timestamp"],
            5
        );

        let verification = claims(&Signal::verification(Some("xyz".into()), 0), &context);
        assert_eq!(
            verification["sub_id"],
            json!({"format": "opaque", "id": "s1"})
        );
        assert_eq!(
            verification["events"][EventKind::Verification.uri()],
            json!({"state": "xyz"})
        );
    }
}
