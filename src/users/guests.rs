//! Guests: anyone may get a fresh identity with a short-lived token of the guest scopes (for
//! joining a call or a chat by link), when the deployment turns guests on. Rate-limited per
//! client address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::throttle::client_key;
use super::{AppUserError, AppUsers, GuestPolicy};
use crate::clock::SharedClock;
use crate::identity::CreatedIdentity;
use crate::token::TokenRequest;

/// The injected clock, as governor reads time.
#[derive(Clone)]
struct LimiterClock(SharedClock);

impl governor::clock::Clock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(u64::try_from(self.0.now_ms()).unwrap_or(0) * 1_000_000)
    }
}

type Limiter = RateLimiter<IpAddr, DashMapStateStore<IpAddr>, LimiterClock, NoOpMiddleware<Nanos>>;

pub struct Guests {
    users: Arc<AppUsers>,
    /// `None` when guests are off.
    enabled: Option<(TokenRequest, Limiter)>,
}

impl Guests {
    pub fn new(users: Arc<AppUsers>, policy: Option<&GuestPolicy>, clock: SharedClock) -> Self {
        let enabled = policy.map(|policy| {
            let per_minute = NonZeroU32::new(policy.per_minute).unwrap_or(NonZeroU32::MIN);
            (
                TokenRequest {
                    scopes: policy.scopes.clone(),
                    lifetime: policy.lifetime,
                },
                RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), LimiterClock(clock)),
            )
        });
        Guests { users, enabled }
    }

    /// A new identity with a guest token; IPv6 clients are limited per /64.
    pub async fn admit(&self, client: IpAddr) -> Result<CreatedIdentity, AppUserError> {
        let (request, limiter) = self.enabled.as_ref().ok_or(AppUserError::GuestsDisabled)?;
        limiter
            .check_key(&client_key(client))
            .map_err(|not_until| AppUserError::Throttled {
                retry_after: not_until.wait_time_from(limiter.clock().now()),
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
