//! ACS identity routes: create, get, delete, issue a token, revoke tokens; and the Teams
//! exchange, which Callsign answers with a clear "not supported".

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::extract::{AcsPath, JsonBody, expect_action};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::identity::{ExternalId, Identity};
use crate::ids::IdentityId;
use crate::token::{IssuedToken, Lifetime, ScopeSet, TokenRequest};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityBody {
    create_token_with_scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
    /// 2025-04-01-preview; `customId` is the name later previews use.
    #[serde(alias = "customId")]
    external_id: Option<String>,
}

/// The body of the colon actions: `:issueAccessToken` needs `scopes`, `:revokeAccessTokens`
/// takes none.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionBody {
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

/// `{"token","expiresOn"}`, the ACS shape of an access token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenView {
    pub token: String,
    pub expires_on: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_token_issued_at: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedView {
    identity: IdentityView,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<AccessTokenView>,
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub(super) fn token_view(issued: IssuedToken) -> AccessTokenView {
    AccessTokenView {
        token: issued.token,
        expires_on: rfc3339(issued.expires_on),
    }
}

impl AppState {
    fn identity_view(&self, identity: Identity) -> IdentityView {
        IdentityView {
            id: self.raw_id(identity.id),
            external_id: identity.external_id,
            last_token_issued_at: identity.last_token_issued_at.map(rfc3339),
        }
    }

    /// The raw id (`8:acs:…`) of an identity of this deployment.
    pub(super) fn raw_id(&self, id: IdentityId) -> String {
        id.to_raw(self.tokens.resource())
    }

    pub(super) fn parse_id(&self, raw: &str) -> Result<IdentityId, ApiError> {
        Ok(IdentityId::parse(raw, self.tokens.resource())?)
    }
}

fn token_request(scopes: &[String], minutes: Option<i64>) -> Result<TokenRequest, ApiError> {
    Ok(TokenRequest {
        scopes: ScopeSet::parse(scopes)?,
        lifetime: Lifetime::from_minutes(minutes)?,
    })
}

/// `POST /identities`: 201 when created, 200 when the external id already had an identity.
pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<CreateIdentityBody>,
) -> Result<Response, ApiError> {
    let token = match &body.create_token_with_scopes {
        Some(scopes) => Some(token_request(scopes, body.expires_in_minutes)?),
        None if body.expires_in_minutes.is_some() => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequestBody,
                "expiresInMinutes needs createTokenWithScopes.",
            ));
        }
        None => None,
    };
    let external_id = body
        .external_id
        .as_deref()
        .map(ExternalId::parse)
        .transpose()?;
    let created = state
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

/// `GET /identities/{id}`
pub async fn get(
    State(state): State<AppState>,
    AcsPath(id): AcsPath<String>,
) -> Result<Json<IdentityView>, ApiError> {
    let identity = state.identities.get(state.parse_id(&id)?).await?;
    Ok(Json(state.identity_view(identity)))
}

/// `DELETE /identities/{id}`
pub async fn delete(
    State(state): State<AppState>,
    AcsPath(id): AcsPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = state.parse_id(&id)?;
    state.identities.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /identities/{id}/:issueAccessToken` and `POST /identities/{id}/:revokeAccessTokens`.
/// (axum cannot route a literal segment that starts with `:`, so the action is matched here.)
pub async fn action(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    AcsPath((id, action)): AcsPath<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Response, ApiError> {
    match action.as_str() {
        ":issueAccessToken" => {
            let scopes = body.scopes.ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidRequestBody,
                    "The request body is not valid: missing field `scopes`.",
                )
            })?;
            let request = token_request(&scopes, body.expires_in_minutes)?;
            let id = state.parse_id(&id)?;
            let issued = state
                .identities
                .issue(id, &request, auth.signing_key())
                .await?;
            Ok(Json(token_view(issued)).into_response())
        }
        ":revokeAccessTokens" => {
            let id = state.parse_id(&id)?;
            state.identities.revoke(id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(super::not_found_error()),
    }
}

/// `POST /teamsUser/:exchangeAccessToken`: Callsign has no Microsoft Entra ID federation.
pub async fn teams_exchange(AcsPath(action): AcsPath<String>) -> ApiError {
    if let Err(not_found) = expect_action(&action, ":exchangeAccessToken") {
        return not_found;
    }
    ApiError::bad_request(
        ErrorCode::TeamsUserExchangeNotSupported,
        "Callsign does not federate with Microsoft Entra ID, so exchanging a Teams user's token \
         is not supported. Create a communication identity and issue it a token instead.",
    )
}
