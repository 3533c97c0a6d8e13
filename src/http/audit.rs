//! `GET /v1/audit-events`: the audit trail, newest first, filtered by identity, app user,
//! action and time range, in pages (`maxPageSize`, and a `nextLink` while more remain). For
//! key administrators only: an access key, or a bearer with an admin role.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::paging::{invalid, next_link, page_size, parse_time, take_page};
use super::schemas::{AuditActionName, BackendRefusals, BadRequest, Unavailable};
use super::views::rfc3339;
use super::{ApiError, AppState, Authenticated, ErrorCode};
use crate::audit::Action;
use crate::clock::from_millis;
use crate::store::{AuditFilter, AuditRecord};
use crate::vocabulary::AppUserId;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events about this identity (a raw id, `8:acs:…` or `8:orgid:…`).
    #[param(
        pattern = r"^(8:acs:[A-Za-z0-9-]{1,64}_[0-9a-f]{8}-[0-9a-f]{4}-(?:[0-79a-f][0-9a-f]{3}-[0-9a-f]{4}|8[0-9a-f]{3}-[0-7c-f][0-9a-f]{3})-[0-9a-f]{12}|8:orgid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$"
    )]
    identity: Option<String>,
    /// Only events about this app user.
    #[param(format = "uuid")]
    app_user: Option<String>,
    /// Only events of this action.
    #[param(value_type = Option<AuditActionName>)]
    action: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    /// 1 to 1000; 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    max_page_size: Option<u32>,
    /// From a previous page's `nextLink`.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    continuation_token: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    /// Increasing in the order events were written; events are listed newest first.
    id: i64,
    #[schema(format = DateTime)]
    at: String,
    /// What happened, e.g. `token.issued`.
    action: String,
    /// Who: `accessKey:primary`, `accessKey:secondary`, `client:<id>` (a backend's bearer
    /// token), `public` (app users and guests on their own routes) or `operator` (the command
    /// line).
    actor: String,
    /// The raw identity id the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    /// The app user id the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_user: Option<String>,
    /// e.g. a token's `scopes` and `expiresInMinutes`, or a key's `slot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// Where the request came from; cleared when the identity or app user is erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_address: Option<String>,
    /// The id Callsign gave the request (its `x-request-id` response header and log lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// The id the client gave the request (`x-ms-client-request-id`, else `x-request-id`), when
    /// it was at most 128 visible ASCII characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_request_id: Option<String>,
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    value: Vec<AuditEventView>,
    /// The next page, while there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

impl AuditQuery {
    fn filter(&self, state: &AppState) -> Result<(AuditFilter, u32), ApiError> {
        let page = page_size(self.max_page_size)?;
        let action = self
            .action
            .as_deref()
            .map(|raw| {
                Action::parse(raw).ok_or_else(|| {
                    let known: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    invalid(format!("'action' must be one of {}.", known.join(", ")))
                })
            })
            .transpose()?;
        let filter = AuditFilter {
            identity: self
                .identity
                .as_deref()
                .map(|raw| state.parse_id(raw))
                .transpose()?,
            app_user: self
                .app_user
                .as_deref()
                .map(|raw| {
                    AppUserId::parse(raw)
                        .ok_or_else(|| invalid("'appUser' must be an app user id (a UUID).".into()))
                })
                .transpose()?,
            action,
            from_ms: self
                .from
                .as_deref()
                .map(|raw| parse_time("from", raw))
                .transpose()?,
            to_ms: self
                .to
                .as_deref()
                .map(|raw| parse_time("to", raw))
                .transpose()?,
            before_id: self
                .continuation_token
                .as_deref()
                .map(|raw| {
                    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                        invalid("'continuationToken' is not one this service gave.".into())
                    })
                })
                .transpose()?,
        };
        Ok((filter, page))
    }

    /// This query's link for the page after `last_id`.
    fn next_link(&self, last_id: i64) -> String {
        let params = [
            ("identity", self.identity.as_deref()),
            ("appUser", self.app_user.as_deref()),
            ("action", self.action.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
        ];
        next_link(
            "/v1/audit-events",
            &params,
            self.max_page_size,
            &last_id.to_string(),
        )
    }
}

/// Read the audit trail
///
/// Newest first, filtered by identity, app user, action and time range, in pages. Needs an
/// access key, or a backend bearer token with an admin role. A deployment that writes its trail
/// to a file (`CALLSIGN_AUDIT_FILE`) answers 404 `AuditTrailElsewhere`.
#[utoipa::path(
    get,
    path = "/v1/audit-events",
    tag = "audit",
    operation_id = "listAuditEvents",
    params(AuditQuery),
    responses(
        (status = OK, description = "A page of events.", body = AuditPage),
        (status = BAD_REQUEST, response = BadRequest),
        (status = NOT_FOUND, description = "`IdentityNotFound` (the identity filter names \
            another resource's), or `AuditTrailElsewhere`.", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
        BackendRefusals,
    ),
    security(("hmac" = []), ("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Authenticated>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    auth.require_key_administration()?;
    if !state.services.audit.is_stored() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::AuditTrailElsewhere,
            "This deployment writes its audit trail to a file (CALLSIGN_AUDIT_FILE), not to the \
             database; read it where that file is shipped.",
        ));
    }
    let Query(query) = query.map_err(|rejection| invalid(format!("{}.", rejection.body_text())))?;
    let (filter, page) = query.filter(&state)?;
    // One more than a page tells whether another page follows.
    let fetched = state.services.audit.events(&filter, page + 1).await?;
    let (records, more) = take_page(fetched, page);
    let next_link = more.then(|| query.next_link(records.last().map_or(0, |r| r.id)));
    Ok(Json(AuditPage {
        value: records
            .into_iter()
            .map(|record| view(&state, record))
            .collect(),
        next_link,
    }))
}

fn view(state: &AppState, record: AuditRecord) -> AuditEventView {
    AuditEventView {
        id: record.id,
        at: from_millis(record.at_ms).map(rfc3339).unwrap_or_default(),
        action: record.action.as_str().to_owned(),
        actor: record.actor.into_owned(),
        identity: record.identity.map(|id| state.raw_id(id)),
        app_user: record.app_user.map(|id| id.to_string()),
        details: record
            .details
            .and_then(|raw| serde_json::from_str(&raw).ok()),
        client_address: record.client_address,
        request_id: record.request_id.map(|id| id.to_string()),
        client_request_id: record.client_request_id.map(|id| id.to_string()),
    }
}
