//! The OpenAPI 3.1 document of every route Callsign can serve (with every option on), served at
//! `GET /openapi.json` with a Swagger UI at `/docs` whose assets are compiled into the binary.
//! The operations are declared beside their handlers (`#[utoipa::path]`); this module gathers
//! them and owns what they share: the security schemes, the common error responses and the
//! token scope names. The document does not depend on configuration: a route that an option
//! turns off is still documented, with the option named in its description.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Schema, Type};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::error::ErrorBody;
use super::schemas::{
    AuditActionName, BadRequest, BearerRejected, Forbidden, IdentityNotFound,
    IdpOrStoreUnavailable, InvalidRefreshToken, PayloadTooLarge, TooManyRequests, Unauthorized,
    Unavailable, UnsupportedMediaType,
};
use super::{
    ApiError, ErrorCode, accounts, audit, guests, hero, identities, keys, metrics, my_sessions,
    ops, org_users, passwords, sessions, ssf, streams, tokens, user_admin, user_search, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Callsign",
        description = "A self-hosted identity and token service for real-time communication \
            apps. The identity routes are those of the Azure Communication Services (ACS) \
            Identity API, so the official Azure SDKs work against it unchanged. Every error has \
            the ACS shape `{\"error\":{\"code\",\"message\"}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        tokens::jwks,
        ssf::discovery,
        ssf::jwks,
        streams::read,
        streams::create,
        streams::update,
        streams::replace,
        streams::delete,
        streams::status,
        streams::set_status,
        streams::add_subject,
        streams::remove_subject,
        streams::verify,
        streams::poll,
        identities::create,
        identities::get,
        identities::delete,
        identities::issue_access_token,
        identities::revoke_access_tokens,
        org_users::exchange,
        tokens::introspect,
        keys::list,
        keys::regenerate,
        user_search::list,
        users::get,
        users::erase,
        users::create_identity,
        users::link,
        users::unlink,
        users::users_of,
        user_admin::disable,
        user_admin::enable,
        user_admin::end_sessions,
        user_admin::list_sessions,
        user_admin::end_session,
        my_sessions::list,
        my_sessions::end,
        my_sessions::end_others,
        user_admin::set_password,
        user_admin::issue_password_reset,
        passwords::redeem,
        passwords::change,
        audit::list,
        accounts::create,
        sessions::sign_in,
        sessions::refresh,
        sessions::sign_out,
        sessions::sign_out_everywhere,
        guests::admit,
        hero::get_user,
        hero::create_user,
        hero::delete_user,
        hero::token,
        hero::v1_token,
        ops::healthz,
        ops::readyz,
        ops::readyz_database,
        metrics::version,
        metrics::render,
    ),
    components(
        schemas(ErrorBody, AuditActionName),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            IdentityNotFound,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Unavailable,
            BearerRejected,
            InvalidRefreshToken,
            IdpOrStoreUnavailable,
        ),
    ),
    modifiers(&SecuritySchemes, &OptionalBodies),
    tags(
        (name = "identities", description = "The ACS Communication Identity API. Every call \
            needs the `api-version` query parameter."),
        (name = "tokens", description = "Token introspection for the services that consume tokens."),
        (name = "keys", description = "Access-key administration, shaped like ARM's `listKeys` and \
            `regenerateKey`."),
        (name = "app users", description = "Backends manage app users and which identities they hold."),
        (name = "sessions", description = "Built-in accounts: sign in, refresh, sign out. The \
            credential is in the body."),
        (name = "guests", description = "Short-lived identities for anyone (`CALLSIGN_GUESTS=on`)."),
        (name = "bearer", description = "App users with a bearer token of the app's OpenID Connect \
            provider (`CALLSIGN_OIDC_ISSUER`; without it these routes are not served). `/api/*` is \
            a drop-in for the ACS authentication hero samples."),
        (name = "signals", description = "The Shared Signals transmitter (SSF 1.0, CAEP, RISC): \
            event streams that tell the services holding sessions of every revocation."),
        (name = "audit", description = "The audit trail: who did what to which identity or app \
            user, when, from where, in which request."),
        (name = "ops", description = "Probes, version and metrics, without authentication. \
            The probes are on every listener; version and metrics on the ops listener \
            (`CALLSIGN_OPS_LISTEN`), metrics on the main listener too with \
            `CALLSIGN_METRICS=public`."),
    ),
)]
pub struct ApiDoc;

/// What the docs page may load: its own scripts, styles and the document from this server;
/// the Swagger UI's inline styles and `data:` icons; nothing may frame it.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; \
    style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// `GET /openapi.json` and the Swagger UI at `/docs`. The UI's validator badge is off, so the
/// browser calls nothing but this server; a strict content security policy holds it to that,
/// and the page may not be framed (clickjacking) nor its assets sniffed as another type.
pub fn docs<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let header =
        |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    Router::from(
        SwaggerUi::new("/docs")
            .url("/openapi.json", ApiDoc::openapi())
            .config(
                Config::default()
                    .validator_url("none")
                    .display_operation_id(true),
            ),
    )
    .layer(map_response(acs_errors))
    .layer(header(header::CONTENT_SECURITY_POLICY, DOCS_CSP))
    .layer(header(header::X_FRAME_OPTIONS, "DENY"))
    .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

/// The Swagger UI answers an unknown asset with an empty 404, a path that is not UTF-8 with a
/// plain-text 400 and its own failure with a plain-text 500: these leave in the ACS shape too.
async fn acs_errors(response: Response) -> Response {
    match response.status() {
        StatusCode::NOT_FOUND => super::not_found_error().into_response(),
        StatusCode::BAD_REQUEST => {
            ApiError::bad_request(ErrorCode::InvalidPath, "The path is not valid UTF-8.")
                .into_response()
        }
        StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!("the Swagger UI could not serve a page");
            ApiError::internal().into_response()
        }
        _ => response,
    }
}

/// The names of the security schemes, as operations refer to them.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_default();
        components.add_security_scheme(
            "hmac",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An ACS access-key signature, as the Azure SDKs send with a connection string. \
                 `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>`, \
                 where the signature is HMAC-SHA256, keyed with the base64-decoded primary or \
                 secondary access key, of `VERB\\n<path>?<query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>`. \
                 The request also carries `x-ms-date` (an HTTP date within 15 minutes of the \
                 server's clock; `Date` with `SignedHeaders=date;host;x-ms-content-sha256` works \
                 too) and `x-ms-content-sha256` (the base64 SHA-256 of the body, also of an empty \
                 one). Every failure is 401 `Denied`. Swagger UI cannot compute a signature: use \
                 an SDK.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Backends without a shared secret: a client-credentials token of the \
                         organisation's OpenID Connect provider (`CALLSIGN_BACKEND_OIDC_ISSUER`), \
                         for the audience `CALLSIGN_BACKEND_OIDC_AUDIENCE`, of a client or role \
                         the deployment admits (else 403 `Forbidden`). RS256, ES256 or EdDSA. \
                         Not together with an access-key signature.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "appBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An app user's token from the app's OpenID Connect provider \
                         (`CALLSIGN_OIDC_ISSUER`, audience `CALLSIGN_OIDC_AUDIENCE`); the user is \
                         its (`iss`, `sub`). RS256, ES256 or EdDSA.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Request bodies declared as `Option<T>`: [`JsonBody`](super::extract::JsonBody) reads an
/// empty body as `{}`, so such a body may be left out; but `null` is no empty body, and utoipa
/// would allow it. The body is kept optional (not `required`) and its schema becomes `T`.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let is_null = |schema: &RefOr<Schema>| matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == Type::Null.into());
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.delete];
            let bodies = operations.into_iter().flatten().filter_map(|operation| {
                match &mut operation.request_body {
                    Some(RefOr::T(body)) => Some(body),
                    _ => None,
                }
            });
            for content in bodies.flat_map(|body| body.content.values_mut()) {
                let RefOr::T(content) = content else { continue };
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
                    && let [schema] = &one_of
                        .items
                        .iter()
                        .filter(|s| !is_null(s))
                        .collect::<Vec<_>>()[..]
                {
                    content.schema = Some((*schema).clone());
                }
            }
        }
    }
}

#[cfg(test)]
pub(in crate::http) mod tests;
