//! Token introspection for the services that consume tokens (in the spirit of RFC 7662):
//! `POST /tokens/:introspect` with `{"token":"…"}`. Answered from memory: the key ring and the
//! revocation cache; an inactive token gets `{"active":false}` and nothing more.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::extract::{AcsPath, JsonBody, expect_action};
use super::{ApiError, AppState};
use crate::token::Scope;

#[derive(Deserialize)]
pub struct IntrospectBody {
    token: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Introspection {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<ActiveDetails>,
}

#[derive(Debug, Serialize)]
pub struct ActiveDetails {
    /// The identity the token was issued to.
    sub: String,
    /// RFC 7662: space-separated scopes.
    scope: String,
    scopes: Vec<&'static str>,
    exp: i64,
    iat: i64,
    nbf: i64,
    iss: String,
    aud: String,
    jti: String,
    token_type: &'static str,
}

pub async fn introspect(
    State(state): State<AppState>,
    AcsPath(action): AcsPath<String>,
    JsonBody(body): JsonBody<IntrospectBody>,
) -> Result<Json<Introspection>, ApiError> {
    expect_action(&action, ":introspect")?;
    let verified = state
        .tokens
        .verify(&body.token, &state.revocations, state.clock.now());
    let details = match verified {
        Ok(token) => Some(ActiveDetails {
            scope: token.scopes.join(" "),
            scopes: token.scopes.iter().map(Scope::as_str).collect(),
            sub: token.claims.sub,
            exp: token.claims.exp,
            iat: token.claims.iat,
            nbf: token.claims.nbf,
            iss: token.claims.iss,
            aud: token.claims.aud,
            jti: token.claims.jti,
            token_type: "Bearer",
        }),
        Err(reason) => {
            tracing::debug!(%reason, "introspected token is inactive");
            None
        }
    };
    Ok(Json(Introspection {
        active: details.is_some(),
        details,
    }))
}
