//! What the OpenAPI document describes but no handler owns: the token scope and audit action
//! names as schemas, the error responses many operations share (never built: each
//! describes what `ApiError` answers in one case), and the sets of them every route of a group
//! answers alike. Handlers and the document both use these,
//! so they live apart from both.

use std::borrow::Cow;

use std::collections::BTreeMap;

use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Response, Schema, Type};
use utoipa::{IntoResponses, PartialSchema, ToResponse, ToSchema};

use super::error::ErrorBody;
use crate::audit::Action;
use crate::token::Scope;

/// A token scope as ACS names it; the names come from [`Scope::ALL`].
pub struct ScopeName;

impl PartialSchema for ScopeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Scope::ALL.map(Scope::as_str)))
            .description(Some("A token scope."))
            .into()
    }
}

impl ToSchema for ScopeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Scope")
    }
}

/// The name of an audit action, as `GET /v1/audit-events` filters by it.
pub struct AuditActionName;

impl PartialSchema for AuditActionName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Action::ALL.map(Action::as_str)))
            .description(Some("What happened."))
            .into()
    }
}

impl ToSchema for AuditActionName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuditAction")
    }
}

/// `InvalidRequestBody`, `InvalidScopes`, `InvalidExpiresInMinutes`, `InvalidIdentity`, … in
/// `error.code` says what is wrong.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct BadRequest(ErrorBody);

/// `Denied`: the request is not signed with a valid access key, or its bearer token is not
/// valid (then with `WWW-Authenticate: Bearer`). One answer for every reason.
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate", description = "`Bearer error=\"invalid_token\"` when a bearer token was refused.")))]
#[allow(dead_code, reason = "documentation only")]
pub struct Unauthorized(ErrorBody);

/// `Forbidden`: a valid bearer token whose client is not admitted (or, for key administration,
/// has no admin role).
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct Forbidden(ErrorBody);

/// `IdentityNotFound`: the identity does not exist, was deleted, or belongs to another resource.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct IdentityNotFound(ErrorBody);

/// `RequestEntityTooLarge`: the body exceeds 64 KiB.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct PayloadTooLarge(ErrorBody);

/// `UnsupportedMediaType`: a non-empty body not sent as `application/json`.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct UnsupportedMediaType(ErrorBody);

/// `TooManyRequests`: over a rate limit or a sign-in throttle; retry after `Retry-After`.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait (at least 1).")))]
#[allow(dead_code, reason = "documentation only")]
pub struct TooManyRequests(ErrorBody);

/// `ServiceUnavailable` (the database cannot be reached), `ServerBusy` (too many password
/// checks queued, with `Retry-After`), `IdentityProviderUnavailable` (a bearer token's provider's
/// keys cannot be fetched and none are cached) or `RequestTimeout`; retry later.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct Unavailable(ErrorBody);

/// `InvalidToken`: the app bearer token is missing or not valid, with `WWW-Authenticate: Bearer`.
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate", description = "`Bearer realm=\"callsign\", error=\"invalid_token\"`")))]
#[allow(dead_code, reason = "documentation only")]
pub struct BearerRejected(ErrorBody);

/// `IdentityProviderUnavailable` (the app's identity provider's keys cannot be fetched and none
/// are cached), `ServiceUnavailable` (the database) or `RequestTimeout`; retry later.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct IdpOrStoreUnavailable(ErrorBody);

/// `InvalidRefreshToken`: the refresh token is unknown, already spent, expired, or its session
/// has ended; sign in again.
#[derive(ToResponse)]
#[allow(dead_code, reason = "documentation only")]
pub struct InvalidRefreshToken(ErrorBody);

/// References to shared responses (registered in the document's components), by status code.
fn referenced<'a>(
    entries: impl IntoIterator<Item = (&'a str, (&'a str, RefOr<Response>))>,
) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, (name, _))| (status.to_owned(), RefOr::Ref(Ref::from_response_name(name))))
        .collect()
}

/// What every backend route answers when the caller is not admitted: 401, 403 and 429.
pub struct BackendRefusals;

impl IntoResponses for BackendRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        referenced([
            ("401", Unauthorized::response()),
            ("403", Forbidden::response()),
            ("429", TooManyRequests::response()),
        ])
    }
}

/// What every route with a JSON body answers for a body it cannot read: 413 and 415.
pub struct BodyRefusals;

impl IntoResponses for BodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        referenced([
            ("413", PayloadTooLarge::response()),
            ("415", UnsupportedMediaType::response()),
        ])
    }
}

/// What every route of an app user's bearer token answers when it is not admitted, or its
/// identity provider or the database is out of reach: 401, 429 and 503.
pub struct BearerRefusals;

impl IntoResponses for BearerRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        referenced([
            ("401", BearerRejected::response()),
            ("429", TooManyRequests::response()),
            ("503", IdpOrStoreUnavailable::response()),
        ])
    }
}
