//! Guests: anyone may get a fresh identity with a short-lived token of the guest scopes (for
//! joining a call or a chat by link), when the deployment turns guests on. Rate-limited per
//! client address.

use std::net::IpAddr;
use std::sync::Arc;

use super::{AppUserError, AppUsers, GuestPolicy};
use crate::clock::SharedClock;
use crate::identity::CreatedIdentity;
use crate::rate_limit::client_key;
use crate::rate_limit::{KeyedLimit, Rate};
use crate::token::TokenRequest;

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
    pub async fn admit(&self, client: IpAddr) -> Result<CreatedIdentity, AppUserError> {
        let (request, limiter) = self.enabled.as_ref().ok_or(AppUserError::GuestsDisabled)?;
        limiter
            .check(&client_key(client))
            .map_err(|retry_after| AppUserError::Throttled { retry_after })?;
        self.users.admit_guest(request).await
    }

    /// Forgets addresses that have not asked for a while (call periodically).
    pub fn forget_quiet_addresses(&self) {
        if let Some((_, limiter)) = &self.enabled {
            limiter.forget_quiet();
        }
    }
}
