//! The Shared Signals transmitter (OpenID SSF 1.0 with CAEP 1.0 and RISC 1.0): the services that
//! hold sessions made from Callsign's tokens (a chat server, a media server, a gateway) hear of
//! a revocation as a signed Security Event Token within milliseconds, pushed to them (RFC 8935)
//! or polled (RFC 8936), instead of introspecting every token on every use.
//!
//! - [`stream`]: a stream's configuration and what a receiver may set;
//! - [`transmitter`]: streams managed by the backends that own them, status, subjects,
//!   verification; `records.rs`: a stream as stored and as shown;
//! - [`set`]: a queued event written as a SET's claims; [`key_ring`]: the asymmetric keys
//!   (RS256 or ES256, `crate::keys::asymmetric`) that sign them, published as a JWKS;
//! - [`push`] and [`poll`]: the two deliveries.
//!
//! Events are queued for each stream by the post-commit dispatcher, in the transaction that
//! takes their change out of the outbox (`crate::store`), so nothing is lost when an instance
//! dies and nothing is sent for a change that rolled back.

pub mod key_ring;
pub mod poll;
pub mod push;
mod records;
pub mod reseal;
pub mod set;
pub mod stream;
pub mod transmitter;

/// Whether `id` could be a stream id or `jti` Callsign gave (32 hex digits): anything else is
/// not looked up.
pub(super) fn is_callsign_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use key_ring::{EventKeyRing, EventKeyRingError};
pub use transmitter::Transmitter;

use crate::store::StoreError;

/// How the transmitter runs.
#[derive(Debug, Clone)]
pub struct SignalSettings {
    /// How long a long poll waits for an event.
    pub poll_wait: Duration,
    /// How long a pushed event is retried before it is dropped as failed.
    pub retry_for: Duration,
    /// Roots trusted for push endpoints besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            poll_wait: Duration::from_secs(20),
            retry_for: Duration::from_secs(72 * 3600),
            ca_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("no such stream")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("the stream holds as many undelivered events as it may")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] EventKeyRingError),
    #[error("{0}")]
    Internal(String),
}
