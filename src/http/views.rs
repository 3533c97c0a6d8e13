//! The views more than one resource answers with: an access token as ACS shapes it, a token
//! with the identity it is for, instants as RFC 3339, and identity ids in their raw form
//! (`8:acs:<resourceId>_<uuid>`, or `8:orgid:<objectId>`), written and parsed for this
//! deployment's resource.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::token::IssuedToken;
use crate::vocabulary::IdentityId;

/// `{"token","expiresOn"}`, the ACS shape of an access token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenView {
    /// An HS256 JWT.
    pub token: String,
    /// RFC 3339; equals the token's `exp`.
    #[schema(format = DateTime)]
    pub expires_on: String,
}

/// `{"token","expiresOn","communicationUserId"}`: a token with the identity it is for. Holds
/// a token: no `Debug`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(description = "A token and the identity it is for.")]
pub struct TokenView {
    /// An HS256 JWT.
    token: String,
    /// RFC 3339; equals the token's `exp`.
    #[schema(format = DateTime)]
    expires_on: String,
    /// The raw id of the identity the token is for.
    communication_user_id: String,
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub(super) fn token_view(issued: IssuedToken) -> AccessTokenView {
    AccessTokenView {
        token: issued.token,
        expires_on: rfc3339(issued.expires_on),
    }
}

impl AppState {
    /// The raw id (`8:acs:…` or `8:orgid:…`) of an identity of this deployment.
    pub(super) fn raw_id(&self, id: IdentityId) -> String {
        id.to_raw(self.services.tokens.resource())
    }

    /// An identity of this deployment from its raw id.
    pub(super) fn parse_id(&self, raw: &str) -> Result<IdentityId, ApiError> {
        Ok(IdentityId::parse(raw, self.services.tokens.resource())?)
    }

    pub(super) fn token_for_view(&self, identity: IdentityId, issued: IssuedToken) -> TokenView {
        TokenView {
            token: issued.token,
            expires_on: rfc3339(issued.expires_on),
            communication_user_id: self.raw_id(identity),
        }
    }
}
