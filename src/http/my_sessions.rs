//! A signed-in user's own sessions, authenticated by the session's refresh token in the body
//! (as signing out is): list them, end one, end every other one. Public, like sign-in, and
//! limited per client address. The backend's view of the same is in `user_admin`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::JsonBody;
use super::schemas::{BadRequest, BodyRefusals, InvalidRefreshToken, TooManyRequests, Unavailable};
use super::views::rfc3339;
use super::{ApiError, AppState, ErrorCode};
use crate::clock::from_millis;
use crate::store::SessionRecord;
use crate::users::RefreshToken;
use crate::vocabulary::FamilyId;

/// One live session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionItemView {
    /// The session id (for ending it).
    #[schema(format = "uuid")]
    id: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    created_at: String,
    /// RFC 3339; absent until it is first refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    last_refreshed_at: Option<String>,
    /// Where it signed in from.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_address: Option<String>,
    /// The `User-Agent` it signed in with, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    user_agent: Option<String>,
    /// Whether this is the session asking (in a user's own list).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    current: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    value: Vec<SessionItemView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MineBody {
    /// The asking session's refresh token.
    refresh_token: String,
    /// The session to end (`/v1/sessions/mine/end` only).
    #[schema(format = "uuid", nullable = false)]
    session_id: Option<String>,
}

pub(super) fn session_list(records: Vec<SessionRecord>, current: Option<FamilyId>) -> SessionList {
    SessionList {
        value: records
            .into_iter()
            .map(|record| SessionItemView {
                id: record.id.to_string(),
                created_at: from_millis(record.created_at_ms)
                    .map(rfc3339)
                    .unwrap_or_default(),
                last_refreshed_at: record
                    .last_refreshed_at_ms
                    .and_then(from_millis)
                    .map(rfc3339),
                client_address: record.client_address,
                user_agent: record.user_agent,
                current: current.map(|current| current == record.id),
            })
            .collect(),
    }
}

/// A session id from a client.
pub(super) fn parse_session(raw: &str) -> Result<FamilyId, ApiError> {
    FamilyId::parse(raw).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidRequestBody,
            format!(
                "'{}' is not a session id (a hyphenated UUID).",
                crate::text::echo(raw, 80)
            ),
        )
    })
}

/// List my sessions
///
/// The live sessions of the user of this refresh token's session, newest first, each with when
/// it started and was last refreshed and where it signed in from.
#[utoipa::path(
    post,
    path = "/v1/sessions/mine",
    tag = "sessions",
    operation_id = "listMySessions",
    request_body = MineBody,
    responses(
        (status = OK, description = "The user's live sessions.", body = SessionList),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn list(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MineBody>,
) -> Result<Json<SessionList>, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let (current, sessions) = state.services.sessions.mine(&presented).await?;
    Ok(Json(session_list(sessions, Some(current))))
}

/// End one of my sessions
///
/// Ends the session `sessionId` of the user of this refresh token's session (it may be this
/// one): its refresh token stops working.
#[utoipa::path(
    post,
    path = "/v1/sessions/mine/end",
    tag = "sessions",
    operation_id = "endMySession",
    request_body = MineBody,
    responses(
        (status = NO_CONTENT, description = "Ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = NOT_FOUND, description = "`SessionNotFound`.", body = super::error::ErrorBody),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn end(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MineBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    let session = body.session_id.as_deref().ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidRequestBody, "'sessionId' is required.")
    })?;
    let session = parse_session(session)?;
    state
        .services
        .sessions
        .end_mine(&presented, session)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End my other sessions
///
/// Ends every session of the user of this refresh token's session but this one.
#[utoipa::path(
    post,
    path = "/v1/sessions/mine/end-others",
    tag = "sessions",
    operation_id = "endMyOtherSessions",
    request_body = MineBody,
    responses(
        (status = NO_CONTENT, description = "Every other session ended."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = UNAUTHORIZED, response = InvalidRefreshToken),
        (status = TOO_MANY_REQUESTS, response = TooManyRequests),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BodyRefusals,
    ),
    security(()),
)]
pub async fn end_others(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MineBody>,
) -> Result<StatusCode, ApiError> {
    let presented = RefreshToken::presented(body.refresh_token)?;
    state.services.sessions.end_others(&presented).await?;
    Ok(StatusCode::NO_CONTENT)
}
