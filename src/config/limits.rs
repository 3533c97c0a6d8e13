//! Rate limits: per access key or bearer client, per identity for tokens, per client address on
//! the routes anyone may call. 0 turns one limit off; `--rate-limits off` turns all off.

use clap::Args;

use super::Switch;

#[derive(Args, Clone)]
pub struct RateLimitConfig {
    /// Rate limits on (`on`, default) or off.
    #[arg(
        long,
        env = "CALLSIGN_RATE_LIMITS",
        value_enum,
        default_value = "on",
        global = true
    )]
    pub rate_limits: Switch,
    /// Requests per second per access key or bearer client (bursts of as many).
    #[arg(
        long,
        env = "CALLSIGN_RATE_LIMIT_PER_KEY",
        default_value_t = 1000,
        global = true
    )]
    pub rate_limit_per_key: u32,
    /// Tokens per minute per identity (bursts of as many).
    #[arg(
        long,
        env = "CALLSIGN_RATE_LIMIT_PER_IDENTITY",
        default_value_t = 60,
        global = true
    )]
    pub rate_limit_per_identity: u32,
    /// Requests per minute per client address (IPv6: per /64) on the routes anyone may call:
    /// sign-in, refresh, sign-out, guests, open registration.
    #[arg(
        long,
        env = "CALLSIGN_RATE_LIMIT_PER_ADDRESS",
        default_value_t = 300,
        global = true
    )]
    pub rate_limit_per_address: u32,
}

impl RateLimitConfig {
    fn enabled(&self, count: u32) -> u32 {
        match self.rate_limits {
            Switch::On => count,
            Switch::Off => 0,
        }
    }

    /// Requests per second per caller; 0: unlimited.
    pub fn per_key(&self) -> u32 {
        self.enabled(self.rate_limit_per_key)
    }

    /// Tokens per minute per identity; 0: unlimited.
    pub fn per_identity(&self) -> u32 {
        self.enabled(self.rate_limit_per_identity)
    }

    /// Requests per minute per client address; 0: unlimited.
    pub fn per_address(&self) -> u32 {
        self.enabled(self.rate_limit_per_address)
    }
}
