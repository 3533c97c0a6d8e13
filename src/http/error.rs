//! The one error type of the HTTP layer. Every error leaves as the ACS body
//! `{"error":{"code":"…","message":"…"}}`; internal details are logged, never sent.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use super::error_code::ErrorCode;
use crate::identity::{ExternalIdError, IdentityError};
use crate::keys::KeyError;
use crate::store::StoreError;
use crate::text::escaped;
use crate::token::{LifetimeError, ScopeError};
use crate::users::AppUserError;
use crate::vocabulary::IdentityIdError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// A header the status calls for (`Retry-After`, `WWW-Authenticate`).
    pub header: Option<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            header: None,
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.header = Some((name, HeaderValue::from_static(value)));
        self
    }

    /// 429 with `Retry-After` in whole seconds (at least one).
    pub fn too_many_requests(retry_after: std::time::Duration, message: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            message,
        )
        .with_retry_after(retry_after)
    }

    /// 503 `ServerBusy` with `Retry-After`: too much work of one kind is queued already.
    pub fn busy(retry_after: std::time::Duration, message: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerBusy,
            message,
        )
        .with_retry_after(retry_after)
    }

    /// `Retry-After` in whole seconds (at least one).
    fn with_retry_after(mut self, retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.header = Some((header::RETRY_AFTER, HeaderValue::from(seconds.max(1))));
        self
    }

    /// 401 for a missing or bad bearer token, with the RFC 6750 challenge.
    pub fn invalid_bearer() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "A valid bearer token from the app's identity provider is required.",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="callsign", error="invalid_token""#,
        )
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The same answer for every authentication failure, as ACS gives.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Denied,
            "Denied by the resource provider: the request is not signed with a valid access key.",
        )
    }

    /// The audit trail did not take an event that must be recorded before the answer (an
    /// issued token, a key listing): nothing is handed out.
    pub fn audit_backlogged() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "The audit trail is not keeping up, so nothing was handed out; retry shortly.",
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    pub fn identity_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::IdentityNotFound,
            "The identity does not exist or was deleted.",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestEntityTooLarge,
            format!("The request body exceeds {} bytes.", super::MAX_BODY_BYTES),
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "The database is unavailable; retry later.",
        )
    }

    /// 503: an identity provider's keys cannot be fetched and none are cached, so a bearer
    /// token cannot be checked either way.
    pub fn identity_provider_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::IdentityProviderUnavailable,
            "The identity provider's keys cannot be fetched right now; retry later.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "An internal error occurred; it has been logged.",
        )
    }
}

/// The ACS error body, `{"error":{"code":"…","message":"…"}}`: what every error answers with.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    code: ErrorCode,
    /// For people; match on `code`, not on this.
    #[schema(example = "The identity does not exist or was deleted.")]
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some((name, value)) = self.header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                // A database's message may quote a value a client sent.
                tracing::warn!(error = %escaped(&error), "database unavailable");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(error = %escaped(&error), "database error");
                ApiError::internal()
            }
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotFound => ApiError::identity_not_found(),
            IdentityError::Deleted => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::IdentityDeleted,
                "This organisation user's identity was deleted; it can be issued tokens again \
                 once every instance has forgotten the deletion, about two days after it.",
            ),
            IdentityError::OrgUser => ApiError::bad_request(
                ErrorCode::InvalidIdentity,
                "An organisation user's identity (8:orgid:…) gets tokens only by exchanging their \
                 provider's token (POST /teamsUser/:exchangeAccessToken); it cannot be issued \
                 tokens by name or held by app users.",
            ),
            IdentityError::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidAccessToken,
                "Provided access token is not valid: expired.",
            ),
            IdentityError::TooManyTokens { retry_after } => ApiError::too_many_requests(
                retry_after,
                "Too many tokens for this identity; retry later.",
            ),
            IdentityError::AuditBacklogged(error) => {
                tracing::warn!(error = %escaped(&error), "token refused");
                ApiError::audit_backlogged()
            }
            IdentityError::Store(error) => error.into(),
            IdentityError::Signing(error) => {
                tracing::error!(error = %escaped(&error), "token signing failed");
                ApiError::internal()
            }
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Store(error) => error.into(),
            error => {
                tracing::error!(error = %escaped(&error), "key ring error");
                ApiError::internal()
            }
        }
    }
}

impl From<IdentityIdError> for ApiError {
    fn from(error: IdentityIdError) -> Self {
        match error {
            IdentityIdError::Malformed(_) => {
                ApiError::bad_request(ErrorCode::InvalidIdentity, error.to_string())
            }
            IdentityIdError::OtherResource(_) => ApiError::identity_not_found(),
        }
    }
}

impl From<ScopeError> for ApiError {
    fn from(error: ScopeError) -> Self {
        ApiError::bad_request(ErrorCode::InvalidScopes, error.to_string())
    }
}

impl From<LifetimeError> for ApiError {
    fn from(error: LifetimeError) -> Self {
        ApiError::bad_request(ErrorCode::InvalidExpiresInMinutes, error.to_string())
    }
}

impl From<ExternalIdError> for ApiError {
    fn from(error: ExternalIdError) -> Self {
        ApiError::bad_request(ErrorCode::InvalidExternalId, error.to_string())
    }
}

impl From<AppUserError> for ApiError {
    fn from(error: AppUserError) -> Self {
        use AppUserError as E;
        let message = error.to_string();
        match error {
            E::UserNotFound => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UserNotFound,
                "The app user does not exist or was erased.",
            ),
            E::SessionNotFound => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::SessionNotFound,
                "No such session: it is not one of this user's, or it has ended.",
            ),
            E::NotAnAccount => Self::bad_request(
                ErrorCode::NotAnAccount,
                "This app user signs in with the app's identity provider; it has no password.",
            ),
            E::InvalidResetToken => Self::bad_request(
                ErrorCode::InvalidResetToken,
                "The password-reset token is unknown, already used or expired; ask for a new one.",
            ),
            E::Disabled => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::UserDisabled,
                "This app user is disabled; ask the service's operator.",
            ),
            E::IdentityNotFound => ApiError::identity_not_found(),
            E::NotUsersIdentity => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::IdentityNotLinked,
                "The identity is not one of this app user's identities.",
            ),
            E::Scopes(_) => Self::bad_request(ErrorCode::InvalidScopes, message),
            // Well-formed, but this deployment does not grant it to app users.
            E::ScopeNotAllowed(_) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::ScopeNotAllowed, message)
            }
            E::Lifetime(_) => Self::bad_request(ErrorCode::InvalidExpiresInMinutes, message),
            E::UsernameTaken => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::UsernameTaken,
                "An account with this username (after normalisation), or one that looks like it, already exists.",
            ),
            E::InvalidUsername(_) => Self::bad_request(ErrorCode::InvalidUsername, message),
            E::InvalidPassword(_) => Self::bad_request(ErrorCode::InvalidPassword, message),
            E::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "The username or password is incorrect.",
            ),
            E::Throttled { retry_after } => Self::too_many_requests(
                retry_after,
                "Too many attempts from this account or address; retry after the time given.",
            ),
            E::InvalidRefreshToken => Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRefreshToken,
                "The refresh token is unknown, already used, expired, or its session has ended; sign in again.",
            ),
            E::GuestsDisabled => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::GuestsDisabled,
                "Guests are not enabled on this deployment (CALLSIGN_GUESTS=on enables them).",
            ),
            E::Busy { retry_after } => Self::busy(
                retry_after,
                "Too many sign-ins are being checked right now; retry after the time given.",
            ),
            E::Hashing(_) => {
                tracing::error!(error = %escaped(&error), "password hashing failed");
                ApiError::internal()
            }
            E::Store(error) => error.into(),
            E::Identity(error) => error.into(),
        }
    }
}
