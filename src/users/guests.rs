//! Guests: anyone may get a fresh identity with a short-lived token of the guest scopes (for
//! joining a call or a chat by link), when the deployment turns guests on. Rate-limited per
//! client address. A guest identity lives until its last token expires (a token a backend issues
//! it later counts too), then is deleted by the background purge, in bounded batches.

use std::net::IpAddr;
use std::sync::Arc;

use super::{AppUserError, AppUsers, GuestPolicy};
use crate::clock::SharedClock;
use crate::rate_limit::client_key;
use crate::rate_limit::{KeyedLimit, Rate};
use crate::telemetry::metrics;
use crate::token::{IssuedToken, TokenRequest};
use crate::vocabulary::IdentityId;

/// The most guest identities one purge transaction deletes.
const PURGE_BATCH: u32 = 500;

pub struct Guests {
    users: Arc<AppUsers>,
    /// `None` when guests are off.
    enabled: Option<(TokenRequest, KeyedLimit<IpAddr>)>,
}

impl Guests {
    pub fn new(users: Arc<AppUsers>, policy: Option<&GuestPolicy>, clock: SharedClock) -> Self {
        let enabled = policy.map(|policy| {
            let rate = Rate::per_minute(policy.per_minute.max(1)).unwrap_or(Rate::MIN_PER_MINUTE);
            (
                TokenRequest {
                    scopes: policy.scopes.clone(),
                    lifetime: policy.lifetime,
                },
                KeyedLimit::new(rate, clock),
            )
        });
        Guests { users, enabled }
    }

    /// A new identity with a guest token; IPv6 clients are limited per /64.
    pub async fn admit(&self, client: IpAddr) -> Result<(IdentityId, IssuedToken), AppUserError> {
        let (request, limiter) = self.enabled.as_ref().ok_or(AppUserError::GuestsDisabled)?;
        limiter
            .check(&client_key(client))
            .map_err(|retry_after| AppUserError::Throttled { retry_after })?;
        self.users.admit_guest(request).await
    }

    /// Deletes the guest identities whose tokens have all expired, a batch at a time; how many.
    /// Runs whether guests are on or not: those admitted while they were on expire too.
    pub async fn purge_expired(&self) -> Result<usize, AppUserError> {
        let mut purged = 0;
        loop {
            let batch = self.users.purge_guests(PURGE_BATCH).await?;
            metrics::guests_purged(batch);
            purged += batch;
            if batch < PURGE_BATCH as usize {
                return Ok(purged);
            }
        }
    }

    /// Forgets addresses that have not asked for a while (call periodically).
    pub fn forget_quiet_addresses(&self) {
        if let Some((_, limiter)) = &self.enabled {
            limiter.forget_quiet();
        }
    }
}

#[cfg(test)]
mod tests;
