//! Guests: anyone may get a fresh identity with a short-lived token of the guest scopes (for
//! joining a call or a chat by link), when the deployment turns guests on. Rate-limited per
//! client address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{AppUserError, AppUsers, GuestPolicy};
use crate::identity::CreatedIdentity;
use crate::token::TokenRequest;

pub struct Guests {
    users: Arc<AppUsers>,
    /// `None` when guests are off.
    enabled: Option<(TokenRequest, DefaultKeyedRateLimiter<IpAddr>)>,
}

impl Guests {
    pub fn new(users: Arc<AppUsers>, policy: Option<&GuestPolicy>) -> Self {
        let enabled = policy.map(|policy| {
            let per_minute = NonZeroU32::new(policy.per_minute).unwrap_or(NonZeroU32::MIN);
            (
                TokenRequest {
                    scopes: policy.scopes.clone(),
                    lifetime: policy.lifetime,
                },
                RateLimiter::keyed(Quota::per_minute(per_minute)),
            )
        });
        Guests { users, enabled }
    }

    /// A new identity with a guest token.
    pub async fn admit(&self, client: IpAddr) -> Result<CreatedIdentity, AppUserError> {
        let (request, limiter) = self.enabled.as_ref().ok_or(AppUserError::GuestsDisabled)?;
        limiter
            .check_key(&client)
            .map_err(|not_until| AppUserError::Throttled {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })?;
        self.users.admit_guest(request).await
    }

    /// Forgets addresses that have not asked for a while (call periodically).
    pub fn forget_quiet_addresses(&self) {
        if let Some((_, limiter)) = &self.enabled {
            limiter.retain_recent();
        }
    }
}
