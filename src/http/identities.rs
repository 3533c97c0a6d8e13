//! ACS identity routes: create, get, delete, issue a token, revoke tokens. (The organisation-user
//! exchange is in [`super::org_users`].)

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_version::{ApiVersion, RequireApiVersion};
use super::extract::{AcsPath, JsonBody};
use super::schemas::{
    BackendRefusals, BadRequest, BodyRefusals, IdentityNotFound, ScopeName, Unavailable,
};
use super::views::{AccessTokenView, rfc3339, token_view};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::identity::{ExternalId, Identity};
use crate::token::{Lifetime, ScopeSet, TokenRequest};

/// Every field is optional; an empty body is `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityBody {
    /// Also issue a token with these scopes.
    #[schema(value_type = Option<Vec<ScopeName>>, min_items = 1)]
    create_token_with_scopes: Option<Vec<String>>,
    /// The token's lifetime, 60 to 1440 minutes (default 1440); without
    /// `createTokenWithScopes` it is checked and otherwise unused.
    #[schema(minimum = 60, maximum = 1440)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    expires_in_minutes: Option<i64>,
    /// 2025-04-01-preview: makes the call idempotent, one identity per external id (1 to 256
    /// characters, no control characters). `customId`, the name later previews use, is
    /// accepted too.
    #[serde(alias = "customId")]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    external_id: Option<String>,
}

/// The body of the colon actions: `:issueAccessToken` needs `scopes`, `:revokeAccessTokens`
/// takes none.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionBody {
    /// Required by `:issueAccessToken`.
    #[schema(value_type = Vec<ScopeName>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// 60 to 1440 minutes; 1440 when absent.
    #[schema(minimum = 60, maximum = 1440)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    expires_in_minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    /// The raw id, `8:acs:<resourceId>_<uuid>`.
    #[schema(
        example = "8:acs:4ad29cb8-7b1a-4c6b-8f11-3fa4a1e0f0c2_00000021-54e4-6f62-b5e1-0b4d5e7a1c3f"
    )]
    id: String,
    /// The external id it was created with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    external_id: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    last_token_issued_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedView {
    identity: IdentityView,
    /// When `createTokenWithScopes` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    access_token: Option<AccessTokenView>,
}

impl AppState {
    fn identity_view(&self, identity: Identity) -> IdentityView {
        IdentityView {
            id: self.raw_id(identity.id),
            external_id: identity.external_id,
            last_token_issued_at: identity.last_token_issued_at.map(rfc3339),
        }
    }
}

fn token_request(scopes: &[String], minutes: Option<i64>) -> Result<TokenRequest, ApiError> {
    Ok(TokenRequest {
        scopes: ScopeSet::parse(scopes)?,
        lifetime: Lifetime::from_minutes(minutes)?,
    })
}

/// Create an identity
///
/// Creates a communication identity, optionally with a token. With an `externalId` the call is
/// idempotent: 201 the first time, then 200 with the same identity.
#[utoipa::path(
    post,
    path = "/identities",
    tag = "identities",
    operation_id = "createIdentity",
    params(ApiVersion),
    request_body(content = Option<CreateIdentityBody>, description = "Optional; no body creates a bare identity."),
    responses(
        (status = CREATED, description = "The identity was created.", body = CreatedView),
        (status = OK, description = "The external id already had this identity.", body = CreatedView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn create(
    _: RequireApiVersion,
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<CreateIdentityBody>,
) -> Result<Response, ApiError> {
    let token = match &body.create_token_with_scopes {
        Some(scopes) => Some(token_request(scopes, body.expires_in_minutes)?),
        None => {
            // No token asked for: a lifetime has nothing to apply to, but must still be valid.
            Lifetime::from_minutes(body.expires_in_minutes)?;
            None
        }
    };
    let external_id = body
        .external_id
        .as_deref()
        .map(ExternalId::parse)
        .transpose()?;
    let created = state
        .services
        .identities
        .create(external_id.as_ref(), token.as_ref(), auth.signing_key())
        .await?;
    let status = if created.is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = CreatedView {
        identity: state.identity_view(created.identity),
        access_token: created.token.map(token_view),
    };
    Ok((status, Json(view)).into_response())
}

/// Get an identity
#[utoipa::path(
    get,
    path = "/identities/{id}",
    tag = "identities",
    operation_id = "getIdentity",
    params(IdentityIdParam, ApiVersion),
    responses(
        (status = OK, description = "The identity.", body = IdentityView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, response = IdentityNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn get(
    _: RequireApiVersion,
    State(state): State<AppState>,
    AcsPath(id): AcsPath<String>,
) -> Result<Json<IdentityView>, ApiError> {
    let identity = state.services.identities.get(state.parse_id(&id)?).await?;
    Ok(Json(state.identity_view(identity)))
}

/// Delete an identity
///
/// The identity is erased, its tokens die on every instance, and it never gets another.
#[utoipa::path(
    delete,
    path = "/identities/{id}",
    tag = "identities",
    operation_id = "deleteIdentity",
    params(IdentityIdParam, ApiVersion),
    responses(
        (status = NO_CONTENT, description = "Deleted."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, response = IdentityNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn delete(
    _: RequireApiVersion,
    State(state): State<AppState>,
    AcsPath(id): AcsPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = state.parse_id(&id)?;
    state.services.identities.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /identities/{id}/{action}`: `:issueAccessToken` or `:revokeAccessTokens`. (axum
/// cannot route a literal segment that starts with `:`, so the action is matched here.)
pub async fn action(
    _: RequireApiVersion,
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    AcsPath((id, action)): AcsPath<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Response, ApiError> {
    match action.as_str() {
        ":issueAccessToken" => issue_access_token(&state, &auth, &id, body)
            .await
            .map(IntoResponse::into_response),
        ":revokeAccessTokens" => revoke_access_tokens(&state, &id)
            .await
            .map(IntoResponse::into_response),
        _ => Err(super::not_found_error()),
    }
}

/// Issue an access token
#[utoipa::path(
    post,
    path = "/identities/{id}/:issueAccessToken",
    tag = "identities",
    operation_id = "issueAccessToken",
    params(AcsIdentityIdParam, ApiVersion),
    request_body = ActionBody,
    responses(
        (status = OK, description = "The token.", body = AccessTokenView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, response = IdentityNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn issue_access_token(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
    body: ActionBody,
) -> Result<Json<AccessTokenView>, ApiError> {
    let scopes = body.scopes.ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidRequestBody,
            "The request body is not valid: missing field `scopes`.",
        )
    })?;
    let request = token_request(&scopes, body.expires_in_minutes)?;
    let id = state.parse_id(id)?;
    let issued = state
        .services
        .identities
        .issue(id, &request, auth.signing_key())
        .await?;
    Ok(Json(token_view(issued)))
}

/// Revoke an identity's access tokens
///
/// Every token issued before the call returns is dead on every instance; tokens issued after
/// it work. The body, if any, is ignored.
#[utoipa::path(
    post,
    path = "/identities/{id}/:revokeAccessTokens",
    tag = "identities",
    operation_id = "revokeAccessTokens",
    params(IdentityIdParam, ApiVersion),
    responses(
        (status = NO_CONTENT, description = "Revoked."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, response = IdentityNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
async fn revoke_access_tokens(state: &AppState, id: &str) -> Result<StatusCode, ApiError> {
    let id = state.parse_id(id)?;
    state.services.identities.revoke(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `{id}` path parameter of the identity routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "documentation only")]
pub struct IdentityIdParam {
    /// The raw identity id (`8:acs:<resourceId>_<uuid>`, or `8:orgid:<objectId>` for an
    /// organisation user; lower-case), percent-encoded. An id of another resource is not found.
    /// The `8:acs:` UUID is never an RFC 9562 version 8 one: those name organisation users.
    #[param(
        pattern = r"^(8:acs:[A-Za-z0-9-]{1,64}_[0-9a-f]{8}-[0-9a-f]{4}-(?:[0-79a-f][0-9a-f]{3}-[0-9a-f]{4}|8[0-9a-f]{3}-[0-7c-f][0-9a-f]{3})-[0-9a-f]{12}|8:orgid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$"
    )]
    id: String,
}

/// The `{id}` of an identity that is issued tokens by name or held by app users: never an
/// organisation user's, whose tokens come only from the exchange.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "documentation only")]
pub struct AcsIdentityIdParam {
    /// The raw identity id (`8:acs:<resourceId>_<uuid>`, lower-case, the UUID not an RFC 9562
    /// version 8 one), percent-encoded. An id of another resource is not found.
    #[param(
        pattern = r"^8:acs:[A-Za-z0-9-]{1,64}_[0-9a-f]{8}-[0-9a-f]{4}-(?:[0-79a-f][0-9a-f]{3}-[0-9a-f]{4}|8[0-9a-f]{3}-[0-7c-f][0-9a-f]{3})-[0-9a-f]{12}$"
    )]
    id: String,
}
