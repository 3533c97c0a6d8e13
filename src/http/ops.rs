//! Probes for orchestrators: liveness without dependencies, readiness with the database.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState, ErrorCode};
use crate::store::StoreError;

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
/// The database is reachable and fully migrated.
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
    if let Some(excess_ms) = state.clock_skew.beyond_bound() {
        tracing::warn!(excess_ms, "not ready: clock skew");
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            format!(
                "This instance's clock is {excess_ms} ms off the database's (at most {} ms keeps revocation exact); fix its time synchronisation.",
                state.clock_skew.bound_ms()
            ),
        ));
    }
    match state.store.check_ready().await {
        Ok(()) => Ok(Json(ProbeStatus { status: "ready" })),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            let message = match error {
                StoreError::NotMigrated(_) => "The database is not migrated.",
                _ => "The database is unreachable.",
            };
            Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NotReady,
                message,
            ))
        }
    }
}
