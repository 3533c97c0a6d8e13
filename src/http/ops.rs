//! Probes for orchestrators: liveness without dependencies, readiness with the database as the
//! last resync found it (a probe anyone may call costs no query).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState, ErrorCode};
use crate::readiness::DatabaseState;

/// `{"status":"ok"}`, or `{"status":"ready","database":"reachable"}`.
#[derive(Serialize, ToSchema)]
pub struct ProbeStatus {
    #[schema(example = "ready")]
    status: &'static str,
    /// On the readiness probes: `reachable`, or `unreachable` while serving from memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "reachable")]
    database: Option<&'static str>,
}

impl ProbeStatus {
    fn ready(database: &'static str) -> Json<ProbeStatus> {
        Json(ProbeStatus {
            status: "ready",
            database: Some(database),
        })
    }
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
    Json(ProbeStatus {
        status: "ok",
        database: None,
    })
}

/// Readiness
///
/// This instance can serve: the database was reachable and fully migrated at the last
/// resynchronisation (every `CALLSIGN_RESYNC_INTERVAL_MS`), or has been unreachable for at most
/// `CALLSIGN_READY_WITHOUT_DATABASE_SECS` while tokens validate from memory (`database` says
/// which); and this instance's clock agrees with the database's.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    operation_id = "checkReadiness",
    responses(
        (status = OK, description = "`{\"status\":\"ready\",\"database\":\"reachable\"}`, or `\"unreachable\"` while serving from memory", body = ProbeStatus),
        (status = SERVICE_UNAVAILABLE, description = "`NotReady`: the database is not migrated, has been unreachable too long, or the clock is skewed.", body = ErrorBody),
    ),
    security(()),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    if let Some(excess_ms) = state.services.clock_skew.beyond_bound() {
        // The resync logs the skew; a probe anyone may call does not add a line each.
        tracing::debug!(excess_ms, "not ready: clock skew");
        return Err(not_ready(format!(
            "This instance's clock is {excess_ms} ms off the database's (at most {} ms keeps revocation exact); fix its time synchronisation.",
            state.services.clock_skew.bound_ms()
        )));
    }
    if state.readiness.database() == DatabaseState::Unreachable {
        let down = state.readiness.unreachable_for().unwrap_or_default();
        let window = state.ready_without_database;
        if !window.is_zero() && down <= window {
            return Ok(ProbeStatus::ready("unreachable"));
        }
        return Err(not_ready(format!(
            "The database has been unreachable for {} s, longer than this instance serves from memory (CALLSIGN_READY_WITHOUT_DATABASE_SECS).",
            down.as_secs()
        )));
    }
    readyz_database(State(state)).await
}

/// Database readiness
///
/// The database itself, as the last resynchronisation found it: reachable and fully migrated.
/// For monitors, and for a readiness probe that should take the instance out of rotation at once
/// when the database goes.
#[utoipa::path(
    get,
    path = "/readyz/database",
    tag = "ops",
    operation_id = "checkDatabaseReadiness",
    responses(
        (status = OK, description = "`{\"status\":\"ready\",\"database\":\"reachable\"}`", body = ProbeStatus),
        (status = SERVICE_UNAVAILABLE, description = "`NotReady`: the database is unreachable or not migrated.", body = ErrorBody),
    ),
    security(()),
)]
pub async fn readyz_database(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    Err(not_ready(match state.readiness.database() {
        DatabaseState::Ready => return Ok(ProbeStatus::ready("reachable")),
        DatabaseState::NotMigrated => "The database is not migrated.",
        DatabaseState::Unreachable => "The database is unreachable.",
        DatabaseState::Stale => {
            "The background resynchronisation has stopped; this instance's caches may be stale."
        }
    }))
}

fn not_ready(message: impl Into<String>) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotReady,
        message,
    )
}
