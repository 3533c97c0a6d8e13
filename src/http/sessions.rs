//! Sessions of built-in accounts: sign in, refresh (rotating), sign out, sign out everywhere.
//! Public routes: the body carries the credential.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::client_address::ClientAddress;
use super::extract::JsonBody;
use super::identities::{AccessTokenView, token_view};
use super::{ApiError, AppState};
use crate::users::{Password, RefreshToken, SessionTokens, Username};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInBody {
    username: String,
    password: String,
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshBody {
    refresh_token: String,
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutBody {
    refresh_token: String,
}

/// Holds a refresh token and an access token: no `Debug`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    refresh_token: String,
    access_token: AccessTokenView,
    user: SessionUserView,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUserView {
    id: String,
    communication_user_id: String,
}

impl AppState {
    fn session_view(&self, tokens: SessionTokens) -> SessionView {
        SessionView {
            user: SessionUserView {
                id: tokens.user.to_string(),
                communication_user_id: self.raw_id(tokens.identity),
            },
            refresh_token: tokens.refresh_token.into_string(),
            access_token: token_view(tokens.access_token),
        }
    }
}

/// `POST /v1/sessions`: 201 with a refresh token and the first access token.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(body): JsonBody<SignInBody>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let request = state
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let user = match state.accounts.verify(&username, &password, client).await {
        Ok(user) => user,
        Err(error) => {
            tracing::info!(%error, "sign-in refused");
            return Err(error.into());
        }
    };
    let tokens = state.sessions.sign_in(user, &request).await?;
    tracing::info!(%user, "app user signed in");
    Ok((StatusCode::CREATED, Json(state.session_view(tokens))))
}

/// `POST /v1/sessions/refresh`: a new access token and a new refresh token; the one presented
/// is spent.
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Json<SessionView>, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let request = state
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let tokens = state.sessions.refresh(&presented, &request).await?;
    Ok(Json(state.session_view(tokens)))
}

/// `POST /v1/sessions/sign-out`: ends this session.
pub async fn sign_out(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SignOutBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let user = state.sessions.sign_out(&presented).await?;
    tracing::info!(%user, "app user signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/sessions/sign-out-everywhere`: ends every session of the user and revokes the
/// tokens of every identity it holds.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SignOutBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    state.sessions.sign_out_everywhere(&presented).await?;
    Ok(StatusCode::NO_CONTENT)
}
