//! Request rate limits: per authenticated caller (access key slot or bearer client) on the
//! backend routes, per client address on the routes anyone may call. Over the limit: 429 with
//! `Retry-After` and the ACS error body.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::client_address::ClientAddress;
use crate::clock::SharedClock;
use crate::keys::KeySlot;
use crate::rate_limit::{KeyedLimit, Rate, client_key};
use crate::telemetry::metrics;

/// Whom a backend request counts against.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    AccessKey(KeySlot),
    Client(String),
}

/// The limits of one instance (each instance counts its own requests).
pub struct RequestLimits {
    per_caller: Option<KeyedLimit<CallerKey>>,
    per_address: Option<KeyedLimit<IpAddr>>,
}

impl RequestLimits {
    /// `per_second_per_caller` and `per_minute_per_address`: 0 for no limit.
    pub fn new(
        per_second_per_caller: u32,
        per_minute_per_address: u32,
        clock: SharedClock,
    ) -> Self {
        RequestLimits {
            per_caller: Rate::per_second(per_second_per_caller)
                .map(|rate| KeyedLimit::new(rate, clock.clone())),
            per_address: Rate::per_minute(per_minute_per_address)
                .map(|rate| KeyedLimit::new(rate, clock)),
        }
    }

    /// Counts a request of an authenticated backend caller.
    pub fn check_caller(&self, caller: &CallerKey) -> Result<(), ApiError> {
        match &self.per_caller {
            Some(limit) => limit.check(caller).map_err(|retry_after| {
                metrics::rate_limited("caller");
                ApiError::too_many_requests(
                    retry_after,
                    "Too many requests with this access key or client; retry later.",
                )
            }),
            None => Ok(()),
        }
    }

    /// Forgets quiet callers and addresses (call periodically).
    pub fn forget_quiet(&self) {
        self.per_caller.iter().for_each(KeyedLimit::forget_quiet);
        self.per_address.iter().for_each(KeyedLimit::forget_quiet);
    }
}

/// Layer on the routes anyone may call: limits each client address (IPv6 by its /64).
pub async fn limit_by_address(
    State(limits): State<Arc<RequestLimits>>,
    ClientAddress(client): ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limit) = &limits.per_address
        && let Err(retry_after) = limit.check(&client_key(client))
    {
        metrics::rate_limited("address");
        return ApiError::too_many_requests(
            retry_after,
            "Too many requests from this address; retry later.",
        )
        .into_response();
    }
    next.run(request).await
}
