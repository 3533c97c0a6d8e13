//! Token introspection for the services that consume tokens (in the spirit of RFC 7662):
//! `POST /tokens/:introspect` with `{"token":"…"}`. Answered from memory: the key ring and the
//! revocation cache; an inactive token gets `{"active":false}` and nothing more.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::extract::{AcsPath, JsonBody, expect_action};
use super::schemas::{BackendRefusals, BadRequest, BodyRefusals, ScopeName};
use super::{ApiError, AppState};
use crate::token::Scope;

#[derive(Deserialize, ToSchema)]
pub struct IntrospectBody {
    /// Any string; what is not an active Callsign token is `{"active":false}`.
    token: String,
}

/// `{"active":false}`, or `active: true` with the token's claims.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Introspection {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    details: Option<ActiveDetails>,
}

/// Written by hand: a derived schema would make the flattened claims "an object or null",
/// which `{"active":false}` is not.
impl PartialSchema for Introspection {
    fn schema() -> RefOr<Schema> {
        let active = |value: bool| {
            ObjectBuilder::new()
                .property(
                    "active",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([value])),
                )
                .required("active")
        };
        let claims = Ref::from_schema_name(ActiveDetails::name());
        OneOfBuilder::new()
            .item(active(false).additional_properties(Some(AdditionalProperties::FreeForm(false))))
            .item(AllOfBuilder::new().item(active(true)).item(claims))
            .description(Some(
                "`{\"active\":false}`, or `\"active\":true` with the token's claims.",
            ))
            .into()
    }
}

impl ToSchema for Introspection {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ActiveDetails::name().into(), ActiveDetails::schema()));
        ActiveDetails::schemas(schemas);
    }
}

/// The claims of an active token.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveDetails {
    /// The identity the token was issued to.
    sub: String,
    /// RFC 7662: space-separated scopes.
    #[schema(example = "chat voip")]
    scope: String,
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<&'static str>,
    /// Seconds since the epoch.
    exp: i64,
    iat: i64,
    nbf: i64,
    iss: String,
    /// `urn:acs:<resourceId>`.
    aud: String,
    jti: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
}

/// Introspect a token
///
/// In the spirit of RFC 7662, answered from memory. Anything but an active token (bad
/// signature, unknown `kid`, expired, not yet valid, revoked, deleted identity, regenerated
/// key) gets `{"active":false}`.
#[utoipa::path(
    post,
    path = "/tokens/:introspect",
    tag = "tokens",
    operation_id = "introspectToken",
    request_body = IntrospectBody,
    responses(
        (status = OK, description = "Whether the token is active, and if so its claims.", body = Introspection),
        (status = BAD_REQUEST, response = BadRequest),
        BackendRefusals,
        BodyRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn introspect(
    State(state): State<AppState>,
    AcsPath(action): AcsPath<String>,
    JsonBody(body): JsonBody<IntrospectBody>,
) -> Result<Json<Introspection>, ApiError> {
    expect_action(&action, ":introspect")?;
    let verified = state.services.tokens.verify(
        &body.token,
        &state.services.revocations,
        state.services.clock.now(),
    );
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

/// The token-verification keys (JWKS)
///
/// Public. With `CALLSIGN_TOKEN_ALGORITHM=ES256` or `RS256`, the public keys access tokens are
/// signed with (valid and retained), so a service verifies a token with any JOSE library and no
/// secret (then checks `iss`, `aud`, `exp`, and hears of revocations through an event stream).
/// With HS256, no key is public: `{"keys": []}`.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "tokens",
    operation_id = "getTokenJwks",
    responses((status = OK, description = "A JWK Set.", body = Object)),
    security(()),
)]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    let ring = state.services.keys.ring().load();
    let keys: Vec<&serde_json::Value> = ring
        .signing_keys()
        .iter()
        .filter_map(|key| key.jwk())
        .collect();
    Json(serde_json::json!({ "keys": keys }))
}
