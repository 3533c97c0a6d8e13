//! A security event for the services that consume Callsign's tokens, as queued for an event
//! stream: which event, about whom, when. What a committed [`Change`] means to them is
//! [`Signal::of`]; how a signal is written as a Security Event Token is `crate::signals`.

use serde::{Deserialize, Serialize};

use super::{AppUserId, Change, IdentityId, KeySlot, Revocation};

/// The events a stream can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// CAEP: the subject's sessions (its tokens) are over.
    SessionRevoked,
    /// RISC: the subject's account is gone.
    AccountPurged,
    /// CAEP: the subject's credential changed.
    CredentialChange,
    /// SSF: a verification event a receiver asked for.
    Verification,
}

impl EventKind {
    /// Every kind a receiver may request (verification events are sent whenever asked for).
    pub const REQUESTABLE: [EventKind; 3] = [
        EventKind::SessionRevoked,
        EventKind::AccountPurged,
        EventKind::CredentialChange,
    ];

    /// The event type URI.
    pub fn uri(self) -> &'static str {
        match self {
            EventKind::SessionRevoked => {
                "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
            }
            EventKind::AccountPurged => {
                "https://schemas.openid.net/secevent/risc/event-type/account-purged"
            }
            EventKind::CredentialChange => {
                "https://schemas.openid.net/secevent/caep/event-type/credential-change"
            }
            EventKind::Verification => {
                "https://schemas.openid.net/secevent/ssf/event-type/verification"
            }
        }
    }

    pub fn from_uri(uri: &str) -> Option<EventKind> {
        [
            EventKind::SessionRevoked,
            EventKind::AccountPurged,
            EventKind::CredentialChange,
            EventKind::Verification,
        ]
        .into_iter()
        .find(|kind| kind.uri() == uri)
    }
}

/// Whom an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignalSubject {
    /// A communication identity: every token whose `sub` it is.
    Identity(IdentityId),
    /// An app user.
    AppUser(AppUserId),
    /// Every token one access key's slot signed (the deployment as a whole).
    Resource(KeySlot),
    /// The stream the event travels on (verification).
    Stream,
}

impl SignalSubject {
    /// How the store matches an event to the subjects removed from a stream; `None` for
    /// events every stream carries.
    pub fn key(&self) -> Option<String> {
        match self {
            SignalSubject::Identity(id) => Some(format!("identity:{}", id.uuid().simple())),
            SignalSubject::AppUser(user) => Some(format!("user:{}", user.uuid().simple())),
            // Every stream hears of these, whatever its subjects.
            SignalSubject::Resource(_) | SignalSubject::Stream => None,
        }
    }
}

/// One event, queued for a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: EventKind,
    pub subject: SignalSubject,
    /// When it happened (unix ms).
    pub at_ms: i64,
    /// A verification event's `state`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the events of one change share (a SET's `txn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<String>,
}

impl Signal {
    fn new(kind: EventKind, subject: SignalSubject, at_ms: i64) -> Self {
        Signal {
            kind,
            subject,
            at_ms,
            detail: None,
            txn: None,
        }
    }

    pub fn with_detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    /// A verification event for a stream, echoing the receiver's `state`.
    pub fn verification(state: Option<String>, at_ms: i64) -> Self {
        Signal::new(EventKind::Verification, SignalSubject::Stream, at_ms).with_detail(state)
    }

    /// What a committed change means to the services holding sessions, `now_ms` being when
    /// the dispatcher took it (a deletion records no instant of its own).
    pub fn of(change: &Change, now_ms: i64) -> Vec<Signal> {
        use EventKind::*;
        use SignalSubject::*;
        let mut signals = match *change {
            Change::Revocation(Revocation::Revoked { id, before_ms }) => {
                vec![Signal::new(SessionRevoked, Identity(id), before_ms)]
            }
            Change::Revocation(Revocation::Deleted { id }) => vec![
                Signal::new(SessionRevoked, Identity(id), now_ms),
                Signal::new(AccountPurged, Identity(id), now_ms),
            ],
            Change::AccessKeyRegenerated { slot, at_ms } => {
                vec![Signal::new(SessionRevoked, Resource(slot), at_ms)]
            }
            Change::AppUserErased { user, at_ms } => {
                vec![Signal::new(AccountPurged, AppUser(user), at_ms)]
            }
            Change::PasswordChanged { user, at_ms } => {
                vec![Signal::new(CredentialChange, AppUser(user), at_ms)]
            }
            Change::KeysChanged => Vec::new(),
        };
        let txn = uuid::Uuid::new_v4().simple().to_string();
        for signal in &mut signals {
            signal.txn = Some(txn.clone());
        }
        signals
    }

    /// The queued form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for what this version cannot read (queued by a newer one).
    pub fn decode(encoded: &str) -> Option<Signal> {
        serde_json::from_str(encoded).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_maps_to_its_events() {
        let id = IdentityId::generate();
        let user = AppUserId::generate();
        let kinds = |change: Change| -> Vec<(EventKind, SignalSubject, i64)> {
            Signal::of(&change, 99)
                .into_iter()
                .map(|s| (s.kind, s.subject, s.at_ms))
                .collect()
        };
        use EventKind::*;
        use SignalSubject::*;
        assert_eq!(
            kinds(Change::Revocation(Revocation::Revoked { id, before_ms: 5 })),
            [(SessionRevoked, Identity(id), 5)]
        );
        assert_eq!(
            kinds(Change::Revocation(Revocation::Deleted { id })),
            [
                (SessionRevoked, Identity(id), 99),
                (AccountPurged, Identity(id), 99)
            ]
        );
        assert_eq!(
            kinds(Change::AccessKeyRegenerated {
                slot: KeySlot::Secondary,
                at_ms: 7
            }),
            [(SessionRevoked, Resource(KeySlot::Secondary), 7)]
        );
        assert_eq!(
            kinds(Change::AppUserErased { user, at_ms: 8 }),
            [(AccountPurged, AppUser(user), 8)]
        );
        assert_eq!(
            kinds(Change::PasswordChanged { user, at_ms: 9 }),
            [(CredentialChange, AppUser(user), 9)]
        );
        assert!(kinds(Change::KeysChanged).is_empty());
        // The events of one change share a txn; another change's differ.
        let both = Signal::of(&Change::Revocation(Revocation::Deleted { id }), 1);
        assert_eq!(both[0].txn, both[1].txn);
        let other = Signal::of(&Change::Revocation(Revocation::Deleted { id }), 1);
        assert_ne!(both[0].txn, other[0].txn);
    }

    #[test]
    fn signals_round_trip_and_uris_parse_back() {
        let signal = Signal::verification(Some("abc".into()), 3);
        assert_eq!(Signal::decode(&signal.encode()), Some(signal));
        assert_eq!(Signal::decode("{\"kind\":\"unknown\"}"), None);
        for kind in [
            EventKind::SessionRevoked,
            EventKind::AccountPurged,
            EventKind::CredentialChange,
            EventKind::Verification,
        ] {
            assert_eq!(EventKind::from_uri(kind.uri()), Some(kind));
        }
    }
}
