//! `POST /teamsUser/:exchangeAccessToken`: an organisation user's token from the organisation's
//! OpenID Connect provider, exchanged for a communication token of their identity
//! (`8:orgid:<objectId>`), as ACS exchanges a Teams user's Microsoft Entra ID token. Off without
//! `CALLSIGN_ORG_OIDC_ISSUER`.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::api_version::{ApiVersion, RequireApiVersion};
use super::extract::{AcsPath, JsonBody, expect_action};
use super::schemas::{BackendRefusals, BodyRefusals, Unavailable};
use super::views::{AccessTokenView, token_view};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::auth::oidc::BearerError;
use crate::auth::org_users::{GateError, Presented};
use crate::text::{echo, escaped};
use crate::token::ScopeSet;

/// What ACS's exchange takes. A missing field reads as empty and is refused by name.
/// Holds a bearer credential: no `Debug`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeBody {
    /// The organisation user's access token, from the organisation's provider, for the
    /// configured audience (`CALLSIGN_ORG_AUDIENCE`).
    #[serde(default)]
    token: String,
    /// The client application the token was issued to (`appid` or `azp`); one of
    /// `CALLSIGN_ORG_CLIENT_IDS`.
    #[serde(default)]
    app_id: String,
    /// The user's directory object id (a GUID), which the token's user claim (`oid`) must equal.
    #[serde(default)]
    user_id: String,
}

/// Exchange an organisation user's token
///
/// Verifies the token (signature from the provider's keys, issuer, audience, expiry, delegated
/// scopes, client and user) and issues a `chat,voip` token of `8:orgid:<userId>`, creating that
/// identity on first use. The token lives no longer than the presented one still does, and at
/// most 24 hours. Off (400 `TeamsUserExchangeNotSupported`) without `CALLSIGN_ORG_OIDC_ISSUER`.
///
/// Besides the backend's own 401 `Denied`: 401 `InvalidAccessToken` for a presented token that
/// is not valid (signature, signer, issuer, audience, expiry, scopes, client or user claim), and
/// 403 `IdentityDeleted` while the user's identity is deleted.
#[utoipa::path(
    post,
    path = "/teamsUser/:exchangeAccessToken",
    tag = "identities",
    operation_id = "exchangeTeamsUserAccessToken",
    params(ApiVersion),
    request_body = ExchangeBody,
    responses(
        (status = OK, description = "The organisation user's token.", body = AccessTokenView),
        (status = BAD_REQUEST, description = "`ValidationError`: a field is missing, `userId` is \
            not a directory object id, or the token is another app's or another user's; \
            `TeamsUserExchangeNotSupported`: the exchange is off.", body = super::error::ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn exchange(
    _: RequireApiVersion,
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    AcsPath(action): AcsPath<String>,
    body: Result<JsonBody<ExchangeBody>, ApiError>,
) -> Result<Json<AccessTokenView>, ApiError> {
    expect_action(&action, ":exchangeAccessToken")?;
    let Some(gate) = &state.org_users else {
        return Err(ApiError::bad_request(
            ErrorCode::TeamsUserExchangeNotSupported,
            "Exchanging an organisation user's token is not enabled on this deployment \
             (CALLSIGN_ORG_OIDC_ISSUER). Create a communication identity and issue it a token \
             instead.",
        ));
    };
    let JsonBody(body) = body?;
    let presented = Presented {
        app_id: &body.app_id,
        user_id: &body.user_id,
    };
    let admitted = gate.admit(&body.token, presented).await.map_err(refused)?;
    let issued = state
        .services
        .identities
        .issue_to_org_user(
            admitted.user,
            ScopeSet::member(),
            admitted.not_after,
            auth.signing_key(),
        )
        .await?;
    Ok(Json(token_view(issued)))
}

/// ACS's answers: 401 `InvalidAccessToken` for a token that is not one to exchange, 400
/// `ValidationError` for fields that do not match it; each message says what is wrong.
fn refused(error: GateError) -> ApiError {
    // A reason may quote the token's own header or claims: cut short, and escaped in the log.
    let reason = echo(&error.to_string(), 160);
    tracing::info!(reason = %escaped(&reason), "organisation user's token refused");
    let invalid_token = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidAccessToken,
            format!("Provided access token is not valid: {reason}."),
        )
    };
    match error {
        GateError::Token(BearerError::KeysUnavailable) => ApiError::identity_provider_unavailable(),
        GateError::Token(_) => invalid_token(),
        GateError::Refused(refusal) if refusal.is_about_token() => invalid_token(),
        GateError::Refused(refusal) => ApiError::bad_request(
            ErrorCode::ValidationError,
            format!("{}: {reason}.", refusal.field().name()),
        ),
    }
}
