//! The Shared Signals stream routes (SSF 1.0 §8, RFC 8936): streams created, read, updated,
//! replaced and deleted by the backend that owns them (each sees only its own), their status,
//! subjects, verification, and the poll endpoint. Authenticated as every backend route is.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::JsonBody;
use super::schemas::{BackendRefusals, BadRequest, BodyRefusals};
use super::ssf::{owner, transmitter};
use super::stream_docs::{PollSchema, StreamSchema, StreamUpdateSchema};
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::signals::poll::PollRequest;
use crate::signals::stream::{Status, StreamRequest};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The stream.
    stream_id: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OneStream {
    /// The stream.
    stream_id: String,
}

/// The `stream_id` query parameter, required: its absence is an ACS-shaped 400.
pub struct StreamParam(OneStream);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for StreamParam {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Query::<OneStream>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| StreamParam(query))
            .map_err(|_| {
                ApiError::bad_request(ErrorCode::InvalidStreamRequest, "stream_id is required.")
            })
    }
}

/// Read streams (SSF §8.1.1.2)
///
/// With `stream_id`, that stream's configuration; without, an array of every stream the
/// caller created.
#[utoipa::path(
    get,
    path = "/ssf/streams",
    tag = "signals",
    operation_id = "getStreams",
    params(StreamQuery),
    responses(
        (status = OK, description = "A stream configuration, or an array of them.", body = Value),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn read(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    Query(query): Query<StreamQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = transmitter(&state);
    Ok(Json(match &query.stream_id {
        Some(id) => t.get(&owner(&auth), id).await?.config,
        None => Value::Array(
            t.list(&owner(&auth))
                .await?
                .into_iter()
                .map(|view| view.config)
                .collect(),
        ),
    }))
}

/// Create a stream (SSF §8.1.1.1)
///
/// `delivery` `urn:ietf:rfc:8935` (push, with the receiver's `endpoint_url`: https, or http on
/// a loopback address, and optionally an `authorization_header`) or `urn:ietf:rfc:8936`
/// (poll; the default). The new stream is enabled and carries every subject.
#[utoipa::path(
    post,
    path = "/ssf/streams",
    tag = "signals",
    operation_id = "createStream",
    request_body = Option<StreamSchema>,
    responses(
        (status = CREATED, description = "The stream's configuration.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(request): JsonBody<StreamRequest>,
) -> Result<Response, ApiError> {
    let view = transmitter(&state).create(&owner(&auth), &request).await?;
    Ok((StatusCode::CREATED, Json(view.config)).into_response())
}

/// Update a stream (SSF §8.1.1.3)
///
/// The receiver-supplied properties named change; the others stay.
#[utoipa::path(
    patch,
    path = "/ssf/streams",
    tag = "signals",
    operation_id = "updateStream",
    request_body = StreamUpdateSchema,
    responses(
        (status = OK, description = "The stream's configuration.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(request): JsonBody<StreamRequest>,
) -> Result<Json<Value>, ApiError> {
    let view = transmitter(&state)
        .update(&owner(&auth), &request, false)
        .await?;
    Ok(Json(view.config))
}

/// Replace a stream (SSF §8.1.1.4)
///
/// Receiver-supplied properties not named go back to their defaults.
#[utoipa::path(
    put,
    path = "/ssf/streams",
    tag = "signals",
    operation_id = "replaceStream",
    request_body = StreamUpdateSchema,
    responses(
        (status = OK, description = "The stream's configuration.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn replace(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(request): JsonBody<StreamRequest>,
) -> Result<Json<Value>, ApiError> {
    let view = transmitter(&state)
        .update(&owner(&auth), &request, true)
        .await?;
    Ok(Json(view.config))
}

/// Delete a stream (SSF §8.1.1.5)
///
/// Its undelivered events go with it.
#[utoipa::path(
    delete,
    path = "/ssf/streams",
    tag = "signals",
    operation_id = "deleteStream",
    params(OneStream),
    responses(
        (status = NO_CONTENT, description = "Deleted."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    StreamParam(query): StreamParam,
) -> Result<StatusCode, ApiError> {
    transmitter(&state)
        .delete(&owner(&auth), &query.stream_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A stream's status (SSF §8.1.2.1)
#[utoipa::path(
    get,
    path = "/ssf/status",
    tag = "signals",
    operation_id = "getStreamStatus",
    params(OneStream),
    responses(
        (status = OK, description = "`stream_id`, `status` and why.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn status(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    StreamParam(query): StreamParam,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        transmitter(&state)
            .status(&owner(&auth), &query.stream_id)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct StatusBody {
    stream_id: String,
    #[schema(pattern = "^(enabled|paused|disabled)$")]
    status: String,
    /// Why; kept to 256 characters, without control characters.
    reason: Option<String>,
}

/// Set a stream's status (SSF §8.1.2.2)
///
/// `enabled`, `paused` (events are held, and sent once enabled again) or `disabled` (nothing
/// is held).
#[utoipa::path(
    post,
    path = "/ssf/status",
    tag = "signals",
    operation_id = "setStreamStatus",
    request_body = StatusBody,
    responses(
        (status = OK, description = "The status set.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn set_status(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<Value>, ApiError> {
    let status = Status::parse(&body.status).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidStreamRequest,
            "status must be enabled, paused or disabled.",
        )
    })?;
    Ok(Json(
        transmitter(&state)
            .set_status(
                &owner(&auth),
                &body.stream_id,
                status,
                body.reason.as_deref(),
            )
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SubjectBody {
    stream_id: String,
    /// An identity `{"format":"iss_sub","iss":<the tokens' iss>,"sub":"8:acs:…"}` (or `8:orgid:…`) or an app
    /// user `{"format":"opaque","id":"<app user id>"}`.
    #[schema(value_type = Object)]
    subject: Value,
}

/// Add a subject back (SSF §8.1.3.2)
///
/// Every subject is in a stream from the start; this carries one removed before again.
#[utoipa::path(
    post,
    path = "/ssf/subjects:add",
    tag = "signals",
    operation_id = "addStreamSubject",
    request_body = SubjectBody,
    responses(
        (status = OK, description = "Added."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn add_subject(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<SubjectBody>,
) -> Result<StatusCode, ApiError> {
    transmitter(&state)
        .add_subject(&owner(&auth), &body.stream_id, &body.subject)
        .await?;
    Ok(StatusCode::OK)
}

/// Remove a subject (SSF §8.1.3.3)
///
/// An identity (`iss_sub` with its tokens' `iss` and `sub`) or an app user (`opaque` with its
/// id): its events no longer reach this stream.
#[utoipa::path(
    post,
    path = "/ssf/subjects:remove",
    tag = "signals",
    operation_id = "removeStreamSubject",
    request_body = SubjectBody,
    responses(
        (status = NO_CONTENT, description = "Removed."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn remove_subject(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<SubjectBody>,
) -> Result<StatusCode, ApiError> {
    transmitter(&state)
        .remove_subject(&owner(&auth), &body.stream_id, &body.subject)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct VerificationBody {
    stream_id: String,
    /// Echoed in the verification event.
    state: Option<String>,
}

/// Ask for a verification event (SSF §8.1.4.2)
///
/// A SET echoing `state` is delivered on the stream.
#[utoipa::path(
    post,
    path = "/ssf/verify",
    tag = "signals",
    operation_id = "verifyStream",
    request_body = VerificationBody,
    responses(
        (status = NO_CONTENT, description = "The verification event is queued."),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn verify(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    JsonBody(body): JsonBody<VerificationBody>,
) -> Result<StatusCode, ApiError> {
    transmitter(&state)
        .verify(&owner(&auth), &body.stream_id, body.state)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Poll a stream (RFC 8936)
///
/// Acknowledges `ack`, forgets `setErrs` (logged), and answers with up to `maxEvents` of the
/// oldest unacknowledged SETs; without `returnImmediately: true` an empty poll waits for an
/// event (`CALLSIGN_SSF_POLL_WAIT_SECS`).
#[utoipa::path(
    post,
    path = "/ssf/poll/{stream_id}",
    tag = "signals",
    operation_id = "pollStream",
    params(("stream_id" = String, Path, description = "The stream.")),
    request_body = Option<PollSchema>,
    responses(
        (status = OK, description = "`sets` (jti to SET) and `moreAvailable`.", body = Object),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "No such stream of this caller."),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn poll(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    Path(stream_id): Path<String>,
    JsonBody(request): JsonBody<PollRequest>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        transmitter(&state)
            .poll(&owner(&auth), &stream_id, &request)
            .await?,
    ))
}
