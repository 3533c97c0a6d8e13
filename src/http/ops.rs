//! Probes for orchestrators: liveness without dependencies, readiness with the database as the
//! last resync found it (a probe anyone may call costs no query).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState, ErrorCode};
use crate::readiness::DatabaseState;

/// `{"status":"ok"}` or `{"status":"ready"}`.
#[derive(Serialize, ToSchema)]
pub struct ProbeStatus {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness
///
/// The process is alive; depends on nothing.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    operation_id = "checkHealth",
    responses((status = OK, description = "`{\"status\":\"ok\"}`", body = ProbeStatus)),
    security(()),
)]
pub async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok" })
}

/// Readiness
///
/// The database is reachable and fully migrated, as the last resynchronisation (every
/// `CALLSIGN_RESYNC_INTERVAL_MS`) found it, and this instance's clock agrees with it.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    operation_id = "checkReadiness",
    responses(
        (status = OK, description = "`{\"status\":\"ready\"}`", body = ProbeStatus),
        (status = SERVICE_UNAVAILABLE, description = "`NotReady`: the database is unreachable or not migrated.", body = ErrorBody),
    ),
    security(()),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    if let Some(excess_ms) = state.services.clock_skew.beyond_bound() {
        // The resync logs the skew; a probe anyone may call does not add a line each.
        tracing::debug!(excess_ms, "not ready: clock skew");
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            format!(
                "This instance's clock is {excess_ms} ms off the database's (at most {} ms keeps revocation exact); fix its time synchronisation.",
                state.services.clock_skew.bound_ms()
            ),
        ));
    }
    let message = match state.readiness.database() {
        DatabaseState::Ready => return Ok(Json(ProbeStatus { status: "ready" })),
        DatabaseState::NotMigrated => "The database is not migrated.",
        DatabaseState::Unreachable => "The database is unreachable.",
        DatabaseState::Stale => {
            "The background resynchronisation has stopped; this instance's caches may be stale."
        }
    };
    Err(ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotReady,
        message,
    ))
}
