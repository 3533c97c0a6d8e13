//! The `Authorization: Bearer <jwt>` of an app user, verified against the app's OpenID Connect
//! provider. A missing or bad bearer is 401 with `WWW-Authenticate: Bearer`.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ApiError;
use crate::auth::oidc::{BearerAuthority, BearerClaims, BearerError};
use crate::telemetry::metrics::{self, AuthFailure};
use crate::text::escaped;

/// A verified bearer token of the app's identity provider.
pub struct AppBearer(pub BearerClaims);

/// The app's identity provider, when app users sign in with its bearer tokens.
#[derive(Clone, Default)]
pub struct AppProvider(pub Option<Arc<BearerAuthority>>);

impl<S> FromRequestParts<S> for AppBearer
where
    AppProvider: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let AppProvider(provider) = AppProvider::from_ref(state);
        let authority = provider.ok_or_else(ApiError::invalid_bearer)?;
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::invalid_bearer)?;
        match authority.verify(token).await {
            Ok(claims) => Ok(AppBearer(claims)),
            Err(BearerError::KeysUnavailable) => {
                tracing::warn!(
                    "bearer token not checked: the identity provider's keys are unavailable"
                );
                Err(ApiError::identity_provider_unavailable())
            }
            Err(reason) => {
                tracing::info!(reason = %escaped(&reason), "bearer token refused");
                metrics::authentication_failed(AuthFailure::Bearer);
                Err(ApiError::invalid_bearer())
            }
        }
    }
}
