//! What can go wrong acting for an app user.

use std::time::Duration;

use crate::identity::IdentityError;
use crate::store::StoreError;
use crate::token::{LifetimeError, ScopeError};

#[derive(Debug, thiserror::Error)]
pub enum AppUserError {
    #[error("app user not found")]
    UserNotFound,
    /// The app user signs in with the app's identity provider: it has no password.
    #[error("the app user has no built-in account")]
    NotAnAccount,
    /// Not one of the user's live sessions.
    #[error("no such session")]
    SessionNotFound,
    /// A password-reset token that is unknown, spent or expired.
    #[error("invalid password-reset token")]
    InvalidResetToken,
    /// An operator disabled the app user: no sign-in, no tokens, until enabled.
    #[error("the app user is disabled")]
    Disabled,
    #[error("identity not found")]
    IdentityNotFound,
    #[error("the identity is not one of this user's")]
    NotUsersIdentity,
    #[error("scope '{0}' is not allowed for app users on this deployment")]
    ScopeNotAllowed(String),
    #[error(transparent)]
    Scopes(#[from] ScopeError),
    #[error(transparent)]
    Lifetime(#[from] LifetimeError),
    #[error("the username is taken")]
    UsernameTaken,
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    InvalidPassword(String),
    /// Unknown user and wrong password alike.
    #[error("bad credentials")]
    BadCredentials,
    #[error("too many failed attempts")]
    Throttled { retry_after: Duration },
    /// Unknown, spent, signed out, expired, or its user erased.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("guests are disabled")]
    GuestsDisabled,
    /// Too many password checks in progress already; nothing was checked.
    #[error("too many password checks in progress")]
    Busy { retry_after: Duration },
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(IdentityError),
}

impl From<IdentityError> for AppUserError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotFound => AppUserError::IdentityNotFound,
            IdentityError::TooManyTokens { retry_after } => AppUserError::Throttled { retry_after },
            IdentityError::Store(error) => AppUserError::Store(error),
            other => AppUserError::Identity(other),
        }
    }
}
