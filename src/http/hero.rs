//! Routes for client apps whose users sign in with the app's OpenID Connect provider: the
//! `/api/*` routes of the ACS "authentication hero" samples (a drop-in for their clients) and
//! `POST /v1/token`. Unlike the samples, the bearer is checked for issuer, audience and expiry,
//! concurrent first requests get one identity, and failures are clear 4xx answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::AppBearer;
use super::client_address::ClientAddress;
use super::error::ErrorBody;
use super::extract::JsonBody;
use super::schemas::{BadRequest, BearerRefusals, BodyRefusals, ScopeName};
use super::views::{TokenView, rfc3339};
use super::{ApiError, AppState};
use crate::vocabulary::AppUserId;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The raw id of the user's (first) identity.
    acs_user_identity: String,
}

/// Holds a token: no `Debug`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(description = "A token and the identity it is for, as the hero samples expect it.")]
pub struct HeroTokenView {
    /// An HS256 JWT.
    token: String,
    /// RFC 3339; equals the token's `exp`.
    #[schema(format = DateTime)]
    expires_on: String,
    user: CommunicationUser,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationUser {
    communication_user_id: String,
}

/// Every field is optional; an empty body is `{}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenBody {
    /// Within `CALLSIGN_APP_SCOPES`; default: all of them.
    #[schema(value_type = Option<Vec<ScopeName>>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// 60 to 1440 minutes (default 1440).
    #[schema(minimum = 60, maximum = 1440)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    expires_in_minutes: Option<i64>,
    /// One of the user's identities (raw id); default: its first.
    #[schema(
        pattern = r"^8:acs:[A-Za-z0-9-]{1,64}_[0-9a-f]{8}-[0-9a-f]{4}-(?:[0-79a-f][0-9a-f]{3}-[0-9a-f]{4}|8[0-9a-f]{3}-[0-7c-f][0-9a-f]{3})-[0-9a-f]{12}$"
    )]
    identity: Option<String>,
}

impl AppState {
    async fn bearer_user(&self, bearer: &AppBearer) -> Result<AppUserId, ApiError> {
        Ok(self
            .services
            .users
            .oidc_user(&bearer.0.issuer, &bearer.0.subject)
            .await?)
    }

    async fn known_bearer_user(&self, bearer: &AppBearer) -> Result<Option<AppUserId>, ApiError> {
        Ok(self
            .services
            .users
            .find_oidc_user(&bearer.0.issuer, &bearer.0.subject)
            .await?)
    }
}

/// Get the user's identity
#[utoipa::path(
    get,
    path = "/api/user",
    tag = "bearer",
    operation_id = "getBearerUser",
    responses(
        (status = OK, description = "The user's identity.", body = UserView),
        (status = NOT_FOUND, description = "`IdentityNotFound`: the user has no identity yet.", body = ErrorBody),
        BearerRefusals,
    ),
    security(("appBearer" = [])),
)]
pub async fn get_user(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<Json<UserView>, ApiError> {
    let identity = match state.known_bearer_user(&bearer).await? {
        Some(user) => state.services.users.find_default_identity(user).await?,
        None => None,
    };
    let identity = identity.ok_or_else(ApiError::identity_not_found)?;
    Ok(Json(UserView {
        acs_user_identity: state.raw_id(identity),
    }))
}

/// Create the user's identity
///
/// Concurrent first requests create exactly one identity.
#[utoipa::path(
    post,
    path = "/api/user",
    tag = "bearer",
    operation_id = "createBearerUser",
    responses(
        (status = CREATED, description = "A new identity, mapped to the user.", body = UserView),
        (status = OK, description = "The user already had this identity.", body = UserView),
        BearerRefusals,
    ),
    security(("appBearer" = [])),
)]
pub async fn create_user(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state.bearer_user(&bearer).await?;
    let (identity, created) = state.services.users.default_identity(user).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(UserView {
            acs_user_identity: state.raw_id(identity),
        }),
    ))
}

/// Erase the user
///
/// Deletes every identity only this user holds (their tokens die), its mapping, sessions and
/// account; an identity shared with other users stays theirs.
#[utoipa::path(
    delete,
    path = "/api/user",
    tag = "bearer",
    operation_id = "deleteBearerUser",
    responses(
        (status = NO_CONTENT, description = "Erased (also when there was nothing to erase)."),
        BearerRefusals,
    ),
    security(("appBearer" = [])),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    bearer: AppBearer,
) -> Result<StatusCode, ApiError> {
    if let Some(user) = state.known_bearer_user(&bearer).await? {
        match state.services.users.erase_self(user, client).await {
            Ok(()) | Err(crate::users::AppUserError::UserNotFound) => {}
            Err(error) => return Err(error.into()),
        }
        tracing::info!(%user, "app user erased itself");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Get a token for the user
///
/// A 24-hour token of the deployment's app scopes (`CALLSIGN_APP_SCOPES`, default `chat,voip`)
/// for the user's identity, created if missing.
#[utoipa::path(
    get,
    path = "/api/token",
    tag = "bearer",
    operation_id = "getBearerUserToken",
    responses(
        (status = CREATED, description = "The token and the identity it is for.", body = HeroTokenView),
        BearerRefusals,
    ),
    security(("appBearer" = [])),
)]
pub async fn token(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<(StatusCode, Json<HeroTokenView>), ApiError> {
    let user = state.bearer_user(&bearer).await?;
    let request = state.services.users.policy().standard_request();
    let (identity, issued) = state.services.users.issue(user, None, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(HeroTokenView {
            token: issued.token,
            expires_on: rfc3339(issued.expires_on),
            user: CommunicationUser {
                communication_user_id: state.raw_id(identity),
            },
        }),
    ))
}

/// Issue a token for the user
///
/// A token with the scopes and lifetime asked for (within the deployment's), for one of the
/// user's identities (its first, created if missing, unless `identity` names another).
#[utoipa::path(
    post,
    path = "/v1/token",
    tag = "bearer",
    operation_id = "issueBearerUserToken",
    request_body(content = Option<TokenBody>, description = "Optional."),
    responses(
        (status = OK, description = "The token and the identity it is for.", body = TokenView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = FORBIDDEN, description = "`ScopeNotAllowed`: a scope this deployment does not grant app users (`CALLSIGN_APP_SCOPES`).", body = ErrorBody),
        (status = NOT_FOUND, description = "`IdentityNotLinked` or `IdentityNotFound`: `identity` is not one of the user's.", body = ErrorBody),
        BearerRefusals,
        BodyRefusals,
    ),
    security(("appBearer" = [])),
)]
pub async fn v1_token(
    State(state): State<AppState>,
    bearer: AppBearer,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    let request = state
        .services
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let identity = body
        .identity
        .as_deref()
        .map(|raw| state.parse_id(raw))
        .transpose()?;
    let user = state.bearer_user(&bearer).await?;
    let (identity, issued) = state.services.users.issue(user, identity, &request).await?;
    Ok(Json(state.token_for_view(identity, issued)))
}
