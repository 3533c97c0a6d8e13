//! Every `error.code` Callsign answers with, in one place. The names are part of the API: ACS's
//! own codes where ACS has one, Callsign's where it does not.

/// Declares the enum, its wire name (the variant's name) and its OpenAPI schema (a string enum
/// whose description lists every code with its doc) in one list.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The `code` of an ACS-shaped error body.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
        #[schema(description = concat!(
            "The `code` of an ACS-shaped error body: ACS's own codes where ACS has one, \
             Callsign's where it does not.\n",
            $("\n- `", stringify!($name), "`:", $($doc,)*)*
        ))]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $name),*
        }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => stringify!($name)),*
                }
            }
        }
    };
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

error_codes! {
    /// 401: authentication failed (one answer for every reason).
    Denied,
    /// 403: a valid bearer token whose client is not allowed (or lacks the admin role).
    Forbidden,
    /// 404: the identity does not exist, was deleted, or belongs to another resource.
    IdentityNotFound,
    /// 404: no such route or action.
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 400: a body that is not valid JSON or misses a required field.
    InvalidRequestBody,
    /// 400: a path parameter that cannot be decoded.
    InvalidPath,
    /// 400
    InvalidScopes,
    /// 403: a scope this deployment does not grant app users.
    ScopeNotAllowed,
    /// 400
    InvalidExpiresInMinutes,
    /// 400: not a communication identity id.
    InvalidIdentity,
    /// 400
    InvalidExternalId,
    /// 400: `keyType` is neither `Primary` nor `Secondary`.
    InvalidKeyType,
    /// 400
    MissingApiVersionParameter,
    /// 400
    UnsupportedApiVersion,
    /// 400: exchanging an organisation user's token is off (no `CALLSIGN_ORG_OIDC_ISSUER`).
    TeamsUserExchangeNotSupported,
    /// 401: the organisation user's token presented for exchange is missing or not valid
    /// (signature, signer, issuer, audience, expiry, delegated scopes, client or user claim); the
    /// message says which.
    InvalidAccessToken,
    /// 400: a field of the exchange is missing or malformed, or the token is another app's or
    /// another user's than `appId` or `userId` name.
    ValidationError,
    /// 403: the organisation user's identity was deleted and may not come back yet.
    IdentityDeleted,
    /// 413
    RequestEntityTooLarge,
    /// 415
    UnsupportedMediaType,
    /// 503: the database is unavailable.
    ServiceUnavailable,
    /// 503: the request took longer than the request deadline.
    RequestTimeout,
    /// 503: an identity provider's keys cannot be fetched (and none are cached), so a bearer
    /// token cannot be checked.
    IdentityProviderUnavailable,
    /// 503: too many password checks are queued (sign-ins, account creations); retry after
    /// `Retry-After`.
    ServerBusy,
    /// 503 from `/readyz`.
    NotReady,
    /// 401: a missing or bad bearer token (with `WWW-Authenticate: Bearer`).
    InvalidToken,
    /// 401: sign-in with an unknown username or a wrong password (the same answer for both).
    InvalidCredentials,
    /// 401: the refresh token is unknown, spent, expired, or its session ended.
    InvalidRefreshToken,
    /// 404: no such app user.
    UserNotFound,
    /// 400: the app user has no built-in account (it signs in with the app's identity
    /// provider), so it has no password.
    NotAnAccount,
    /// 404: not one of the user's live sessions.
    SessionNotFound,
    /// 400: the password-reset token is unknown, already used or expired.
    InvalidResetToken,
    /// 403: an operator disabled the app user; it cannot sign in or get tokens until enabled.
    UserDisabled,
    /// 404: the audit trail is written to a file (`CALLSIGN_AUDIT_FILE`), not the database.
    AuditTrailElsewhere,
    /// 404: no event stream with this id was created by this caller.
    StreamNotFound,
    /// 400: an event stream request (SSF) is malformed or asks for what Callsign does not do.
    InvalidStreamRequest,
    /// 404: the identity is not one of the app user's.
    IdentityNotLinked,
    /// 404: guests are off on this deployment.
    GuestsDisabled,
    /// 409: the username is taken.
    UsernameTaken,
    /// 400
    InvalidUsername,
    /// 400
    InvalidPassword,
    /// 400: not an app user id (a hyphenated UUID).
    InvalidUserId,
    InvalidQueryParameter,
    /// 400: `X-Forwarded-For` from a trusted proxy has a hop that is not an IP address.
    InvalidForwardedFor,
    /// 429: with `Retry-After`.
    TooManyRequests,
    /// 500: logged with details, never sent.
    InternalError,
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn wire_names_are_the_variant_names() {
        assert_eq!(ErrorCode::IdentityNotFound.as_str(), "IdentityNotFound");
        assert_eq!(ErrorCode::Denied.as_str(), "Denied");
    }
}
