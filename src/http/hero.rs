//! Routes for client apps whose users sign in with the app's OpenID Connect provider: the
//! `/api/*` routes of the ACS "authentication hero" samples (a drop-in for their clients) and
//! `POST /v1/token`. Unlike the samples, the bearer is checked for issuer, audience and expiry,
//! concurrent first requests get one identity, and failures are clear 4xx answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::bearer::AppBearer;
use super::extract::JsonBody;
use super::identities::rfc3339;
use super::{ApiError, AppState};
use crate::ids::{AppUserId, IdentityId};
use crate::token::IssuedToken;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    acs_user_identity: String,
}

/// Holds a token: no `Debug`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeroTokenView {
    token: String,
    expires_on: String,
    user: CommunicationUser,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationUser {
    communication_user_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
    /// One of the user's identities (raw id); default: its first.
    identity: Option<String>,
}

/// `{"token","expiresOn","communicationUserId"}`: a token with the identity it is for. Holds
/// a token: no `Debug`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    token: String,
    expires_on: String,
    communication_user_id: String,
}

impl AppState {
    pub(super) fn token_for_view(&self, identity: IdentityId, issued: IssuedToken) -> TokenView {
        TokenView {
            token: issued.token,
            expires_on: rfc3339(issued.expires_on),
            communication_user_id: self.raw_id(identity),
        }
    }
}

impl AppState {
    async fn bearer_user(&self, bearer: &AppBearer) -> Result<AppUserId, ApiError> {
        Ok(self
            .users
            .oidc_user(&bearer.0.issuer, &bearer.0.subject)
            .await?)
    }

    async fn known_bearer_user(&self, bearer: &AppBearer) -> Result<Option<AppUserId>, ApiError> {
        Ok(self
            .users
            .find_oidc_user(&bearer.0.issuer, &bearer.0.subject)
            .await?)
    }
}

/// `GET /api/user`: 200 with the user's identity, 404 if it has none.
pub async fn get_user(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<Json<UserView>, ApiError> {
    let identity = match state.known_bearer_user(&bearer).await? {
        Some(user) => state.users.find_default_identity(user).await?,
        None => None,
    };
    let identity = identity.ok_or_else(ApiError::identity_not_found)?;
    Ok(Json(UserView {
        acs_user_identity: state.raw_id(identity),
    }))
}

/// `POST /api/user`: 201 with a new identity mapped to the user, 200 if it had one.
pub async fn create_user(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state.bearer_user(&bearer).await?;
    let (identity, created) = state.users.default_identity(user).await?;
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

/// `DELETE /api/user`: 204; the user's identities are deleted and the mapping erased.
pub async fn delete_user(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<StatusCode, ApiError> {
    if let Some(user) = state.known_bearer_user(&bearer).await? {
        match state.users.erase(user).await {
            Ok(()) | Err(crate::users::AppUserError::UserNotFound) => {}
            Err(error) => return Err(error.into()),
        }
        tracing::info!(%user, "app user erased itself");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/token`: 201 with a 24-hour token of the deployment's app scopes (chat and voip by
/// default) for the user's identity, created if missing.
pub async fn token(
    State(state): State<AppState>,
    bearer: AppBearer,
) -> Result<(StatusCode, Json<HeroTokenView>), ApiError> {
    let user = state.bearer_user(&bearer).await?;
    let request = state.users.policy().standard_request();
    let (identity, issued) = state.users.issue(user, None, &request).await?;
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

/// `POST /v1/token`: a token with the scopes and lifetime asked for (within the deployment's),
/// for one of the user's identities.
pub async fn v1_token(
    State(state): State<AppState>,
    bearer: AppBearer,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    let request = state
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let identity = body
        .identity
        .as_deref()
        .map(|raw| state.parse_id(raw))
        .transpose()?;
    let user = state.bearer_user(&bearer).await?;
    let (identity, issued) = state.users.issue(user, identity, &request).await?;
    Ok(Json(state.token_for_view(identity, issued)))
}
