//! Which organisation users' tokens may be exchanged for a communication token, and for whom
//! (the ACS "Teams user" exchange, offered for any OpenID Connect provider). A pure check of a
//! token the organisation's provider signed ([`super::oidc`] verified it) against the `appId`
//! and `userId` the caller presents:
//!
//! - the token carries every configured delegated scope, in `scp` (Entra ID, Okta) or `scope`
//!   (Keycloak), by name or as `<audience>/<name>`;
//! - its client, `appid` (Entra ID v1) or `azp` (v2, OpenID Connect), both strings and in
//!   agreement where both are present, is `appId` and one of the configured clients;
//! - its user claim (`oid` by default) is the directory object id `userId` names.
//!
//! [`OrgGate`] runs the whole check and says when the communication token must expire by: when
//! the presented one does.

use serde_json::Value;
use time::OffsetDateTime;

use super::oidc::{BearerAuthority, BearerClaims, BearerError, ClaimsDisagree};
use crate::clock::SharedClock;
use crate::vocabulary::{ORG_USER_ID_FORM, OrgUserId};

/// The claims that name the client an organisation user's token was issued to.
const CLIENT_CLAIMS: [&str; 2] = ["appid", "azp"];

/// The exchange's rules, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgExchangePolicy {
    /// Client applications whose users' tokens may be exchanged.
    pub clients: Vec<String>,
    /// Delegated scopes the token must carry, every one.
    pub scopes: Vec<String>,
    /// The claim holding the user's directory object id.
    pub user_claim: String,
    /// The audience the tokens are for; scopes may be written under it.
    pub audience: String,
}

/// What the caller presents besides the token.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub app_id: &'a str,
    pub user_id: &'a str,
}

/// A request field the exchange checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Token,
    AppId,
    UserId,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Token => "token",
            Field::AppId => "appId",
            Field::UserId => "userId",
        }
    }
}

/// Why an exchange is refused; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeRefused {
    #[error("{} is required", .0.name())]
    Required(Field),
    #[error("userId '{0}' is not {ORG_USER_ID_FORM}")]
    UserIdFormat(String),
    /// The token itself is not one to exchange (answered as an invalid token).
    #[error("the token lacks the delegated scope '{0}'")]
    MissingScope(String),
    #[error("the token names no client application, or names two: {0}")]
    NoClient(&'static str),
    #[error("the token was issued to client application '{token}', not to appId '{presented}'")]
    OtherApp { token: String, presented: String },
    #[error(
        "client application '{0}' may not exchange its users' tokens (not in CALLSIGN_ORG_CLIENT_IDS)"
    )]
    AppNotAllowed(String),
    #[error("the token's '{claim}' claim is not {ORG_USER_ID_FORM}")]
    NoUser { claim: String },
    #[error("the token was issued for another user than userId '{0}'")]
    OtherUser(String),
}

impl ExchangeRefused {
    /// Whether the refusal is about the presented token (a missing one included), not the
    /// fields beside it.
    pub fn is_about_token(&self) -> bool {
        self.field() == Field::Token
    }

    /// The request field the refusal is about.
    pub fn field(&self) -> Field {
        match self {
            ExchangeRefused::Required(field) => *field,
            ExchangeRefused::UserIdFormat(_) | ExchangeRefused::OtherUser(_) => Field::UserId,
            ExchangeRefused::OtherApp { .. } | ExchangeRefused::AppNotAllowed(_) => Field::AppId,
            ExchangeRefused::MissingScope(_)
            | ExchangeRefused::NoClient(_)
            | ExchangeRefused::NoUser { .. } => Field::Token,
        }
    }
}

/// The organisation's provider, the exchange's rules and the clock they are judged by.
pub struct OrgGate {
    pub authority: BearerAuthority,
    pub policy: OrgExchangePolicy,
    pub clock: SharedClock,
}

/// An organisation user whose token may be exchanged, and when theirs must expire by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub user: OrgUserId,
    /// The presented token's `exp`.
    pub not_after: OffsetDateTime,
}

/// Why the gate refuses: the presented token is not valid, or the exchange's rules refuse it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Token(#[from] BearerError),
    #[error(transparent)]
    Refused(#[from] ExchangeRefused),
}

impl OrgGate {
    /// Checks the fields, verifies the token, and judges it against them.
    pub async fn admit(
        &self,
        token: &str,
        presented: Presented<'_>,
    ) -> Result<Admitted, GateError> {
        let user = self.policy.check_fields(token, presented)?;
        let claims = self.authority.verify(token).await?;
        self.policy.judge(&claims, presented.app_id, user)?;
        // The verifier allows a little clock skew past `exp`; nothing is left of such a token.
        let not_after = OffsetDateTime::from_unix_timestamp(claims.expires_at)
            .ok()
            .filter(|not_after| *not_after > self.clock.now())
            .ok_or(BearerError::Expired)?;
        Ok(Admitted { user, not_after })
    }
}

impl OrgExchangePolicy {
    /// The fields checked before the token is: present, and `userId` a directory object id.
    pub fn check_fields(
        &self,
        token: &str,
        presented: Presented<'_>,
    ) -> Result<OrgUserId, ExchangeRefused> {
        for (value, field) in [
            (token, Field::Token),
            (presented.app_id, Field::AppId),
            (presented.user_id, Field::UserId),
        ] {
            if value.is_empty() {
                return Err(ExchangeRefused::Required(field));
            }
        }
        OrgUserId::parse(presented.user_id)
            .ok_or_else(|| ExchangeRefused::UserIdFormat(echo(presented.user_id)))
    }

    /// Judges a verified token against `appId` and the user [`Self::check_fields`] found.
    pub fn judge(
        &self,
        token: &BearerClaims,
        app_id: &str,
        user: OrgUserId,
    ) -> Result<(), ExchangeRefused> {
        let granted = scopes(token);
        if let Some(missing) = self
            .scopes
            .iter()
            .find(|wanted| !granted.iter().any(|scope| self.is_scope(scope, wanted)))
        {
            return Err(ExchangeRefused::MissingScope(missing.clone()));
        }
        let client = client(token)?;
        if client != app_id {
            return Err(ExchangeRefused::OtherApp {
                token: echo(client),
                presented: echo(app_id),
            });
        }
        if !self.clients.iter().any(|allowed| allowed == client) {
            return Err(ExchangeRefused::AppNotAllowed(echo(client)));
        }
        let named = token
            .claims
            .get(&self.user_claim)
            .and_then(Value::as_str)
            .and_then(OrgUserId::parse)
            .ok_or_else(|| ExchangeRefused::NoUser {
                claim: self.user_claim.clone(),
            })?;
        if named != user {
            return Err(ExchangeRefused::OtherUser(user.to_string()));
        }
        Ok(())
    }

    /// `scope` is `wanted`, by name or written under the audience (`<audience>/<name>`).
    fn is_scope(&self, scope: &str, wanted: &str) -> bool {
        scope == wanted
            || scope
                .strip_prefix(self.audience.trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(wanted)
    }
}

/// The delegated scopes a token carries: `scp` or `scope`, space-separated or a list.
fn scopes(token: &BearerClaims) -> Vec<&str> {
    ["scp", "scope"]
        .iter()
        .filter_map(|claim| token.claims.get(*claim))
        .flat_map(|value| match value {
            Value::String(joined) => joined.split_whitespace().collect(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The client the token was issued to: `appid` and `azp`, strings that agree.
fn client(token: &BearerClaims) -> Result<&str, ExchangeRefused> {
    token
        .agreed(&CLIENT_CLAIMS)
        .map_err(|disagree| {
            ExchangeRefused::NoClient(match disagree {
                ClaimsDisagree::NotAString => "appid or azp is not a non-empty string",
                ClaimsDisagree::Differ => "appid and azp differ",
            })
        })?
        .ok_or(ExchangeRefused::NoClient("it has neither appid nor azp"))
}

fn echo(raw: &str) -> String {
    crate::text::echo(raw, 80)
}

#[cfg(test)]
mod tests;
