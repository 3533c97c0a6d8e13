//! Probes for orchestrators: liveness without dependencies, readiness with the database.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, AppState, ErrorCode};
use crate::store::StoreError;

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database is reachable and fully migrated.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.check_ready().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
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
