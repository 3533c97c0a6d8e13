//! Sessions of built-in accounts: sign in, refresh (rotating), sign out, sign out everywhere.
//! Public routes: the body carries the credential.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client_address::ClientAddress;
use super::error::ErrorBody;
use super::extract::JsonBody;
use super::schemas::{
    BadRequest, BodyRefusals, InvalidRefreshToken, ScopeName, TooManyRequests, Unavailable,
};
use super::views::{AccessTokenView, token_view};
use super::{ApiError, AppState};
use crate::telemetry::metrics::{self, AuthFailure};
use crate::text::escaped;
use crate::users::{AppUserError, Password, RefreshToken, SessionTokens, Username};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInBody {
    #[schema(example = "alice")]
    username: String,
    #[schema(format = Password)]
    password: String,
    /// Within `CALLSIGN_APP_SCOPES`; default: all of them.
    #[schema(value_type = Option<Vec<ScopeName>>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// 60 to 1440 minutes (default 1440).
    #[schema(minimum = 60, maximum = 1440)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    /// `csr_…`, spent by this call.
    refresh_token: String,
    /// Within `CALLSIGN_APP_SCOPES`; default: all of them.
    #[schema(value_type = Option<Vec<ScopeName>>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// 60 to 1440 minutes (default 1440).
    #[schema(minimum = 60, maximum = 1440)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    expires_in_minutes: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignOutBody {
    /// A refresh token of the session (`csr_…`).
    refresh_token: String,
}

/// Holds a refresh token and an access token: no `Debug`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(description = "A session: its refresh token, an access token and whom they are for.")]
pub struct SessionView {
    /// `csr_` + 256 random bits; spend it with `/v1/sessions/refresh`.
    refresh_token: String,
    access_token: AccessTokenView,
    user: SessionUserView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionUserView {
    /// The app user id.
    #[schema(format = "uuid")]
    id: String,
    /// The raw id of the identity the access token is for.
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

/// Sign in
///
/// With a built-in account's username and password: a refresh token and the first access
/// token. Failed sign-ins are throttled per account and client address, per account, and per
/// client address; while an account is locked, only a correct password from an address with no
/// recent failures on it gets in.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    operation_id = "signIn",
    request_body = SignInBody,
    responses(
        (status = CREATED, description = "A new session.", body = SessionView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = FORBIDDEN, description = "`ScopeNotAllowed`: a scope this deployment does not grant app users (`CALLSIGN_APP_SCOPES`).", body = ErrorBody),
        (status = UNAUTHORIZED, description = "`InvalidCredentials`: an unknown username, a wrong password, or credentials no account can have (one answer for all).", body = ErrorBody),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    JsonBody(body): JsonBody<SignInBody>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    // Credentials no account can have are simply wrong ones: one answer for every refusal.
    let (Ok(username), Ok(password)) = (
        Username::parse(&body.username),
        Password::parse(body.password),
    ) else {
        metrics::authentication_failed(AuthFailure::Password);
        tracing::info!(%client, "sign-in refused: credentials no account can have");
        return Err(AppUserError::BadCredentials.into());
    };
    let request = state
        .services
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let user = match state
        .services
        .accounts
        .verify(&username, &password, client)
        .await
    {
        Ok(user) => user,
        Err(error) => {
            // Who tried, for fail2ban-style tooling and for the person reading the log: the
            // client address, never the username (a mistyped password often lands there).
            tracing::info!(%client, error = %escaped(&error), "sign-in refused");
            return Err(error.into());
        }
    };
    let tokens = state.services.sessions.sign_in(user, &request).await?;
    tracing::info!(%user, "app user signed in");
    Ok((StatusCode::CREATED, Json(state.session_view(tokens))))
}

/// Refresh a session
///
/// A new access token and a new refresh token; the one presented is spent. Presenting a spent
/// one again ends every session of its user and revokes the tokens of the identities only that
/// user holds (an identity shared with other users keeps its tokens).
#[utoipa::path(
    post,
    path = "/v1/sessions/refresh",
    tag = "sessions",
    operation_id = "refreshSession",
    request_body = RefreshBody,
    responses(
        (status = OK, description = "The session, with a new refresh token.", body = SessionView),
        (status = BAD_REQUEST, response = BadRequest),
        (status = FORBIDDEN, description = "`ScopeNotAllowed`: a scope this deployment does not grant app users (`CALLSIGN_APP_SCOPES`).", body = ErrorBody),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Json<SessionView>, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let request = state
        .services
        .users
        .policy()
        .token_request(body.scopes.as_deref(), body.expires_in_minutes)?;
    let tokens = state
        .services
        .sessions
        .refresh(&presented, &request)
        .await?;
    Ok(Json(state.session_view(tokens)))
}

/// Sign out
///
/// Ends the session the refresh token belongs to. A spent refresh token is refused and taken
/// as reuse, as by `/v1/sessions/refresh`.
#[utoipa::path(
    post,
    path = "/v1/sessions/sign-out",
    tag = "sessions",
    operation_id = "signOut",
    request_body = SignOutBody,
    responses(
        (status = NO_CONTENT, description = "The session has ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn sign_out(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SignOutBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let user = state.services.sessions.sign_out(&presented).await?;
    tracing::info!(%user, "app user signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere
///
/// Ends every session of the user and revokes the tokens of every identity only this user
/// holds (a shared identity keeps them). A spent refresh token is refused and taken as reuse,
/// as by `/v1/sessions/refresh`.
#[utoipa::path(
    post,
    path = "/v1/sessions/sign-out-everywhere",
    tag = "sessions",
    operation_id = "signOutEverywhere",
    request_body = SignOutBody,
    responses(
        (status = NO_CONTENT, description = "Every session has ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SignOutBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    state
        .services
        .sessions
        .sign_out_everywhere(&presented)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
