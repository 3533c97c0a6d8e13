//! The Shared Signals transmitter: how security event tokens are signed and delivered.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::keys::KeyAlgorithm;
use crate::signals::SignalSettings;

#[derive(Args, Clone)]
pub struct SignalConfig {
    /// How security event tokens are signed: `RS256` (what receivers of the CAEP
    /// interoperability profile expect) or `ES256`. Changing it rotates to a key of the new
    /// algorithm at first need; the old key stays published until it is retired.
    #[arg(
        long,
        env = "CALLSIGN_SSF_ALGORITHM",
        value_enum,
        default_value = "RS256",
        global = true
    )]
    pub ssf_algorithm: KeyAlgorithm,
    /// Hours a pushed event is retried (with exponential backoff) before it is dropped as
    /// failed.
    #[arg(
        long,
        env = "CALLSIGN_SSF_RETRY_HOURS",
        default_value_t = 72,
        global = true
    )]
    pub ssf_retry_hours: u64,
    /// Seconds a long poll waits for an event before answering with none.
    #[arg(
        long,
        env = "CALLSIGN_SSF_POLL_WAIT_SECS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=25),
        global = true
    )]
    pub ssf_poll_wait_secs: u64,
    /// PEM file of certificate authorities trusted for push endpoints, besides the system's.
    #[arg(long, env = "CALLSIGN_SSF_CA_FILE", global = true)]
    pub ssf_ca_file: Option<PathBuf>,
}

impl SignalConfig {
    pub fn settings(&self) -> SignalSettings {
        SignalSettings {
            poll_wait: Duration::from_secs(self.ssf_poll_wait_secs),
            retry_for: Duration::from_secs(self.ssf_retry_hours.saturating_mul(3600)),
            ca_file: self.ssf_ca_file.clone(),
        }
    }
}
