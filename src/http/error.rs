//! The one error type of the HTTP layer. Every error leaves as the ACS body
//! `{"error":{"code":"…","message":"…"}}`; internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use super::error_code::ErrorCode;
use crate::identity::{ExternalIdError, IdentityError};
use crate::ids::IdentityIdError;
use crate::keys::KeyError;
use crate::store::StoreError;
use crate::token::{LifetimeError, ScopeError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
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

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "An internal error occurred; it has been logged.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "database unavailable");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(%error, "database error");
                ApiError::internal()
            }
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotFound => ApiError::identity_not_found(),
            IdentityError::Store(error) => error.into(),
            IdentityError::Signing(error) => {
                tracing::error!(%error, "token signing failed");
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
                tracing::error!(%error, "key ring error");
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
