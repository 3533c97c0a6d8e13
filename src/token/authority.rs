//! Minting and verifying tokens. The caller names the signing key (see [`crate::keys`] for which
//! key signs for whom); verification picks the key by `kid` from the ring, and nothing else, and
//! asks it whether it still verifies.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Claims, ScopeSet, TokenRequest};
use crate::clock::millis;
use crate::keys::{KeyRing, SigningKey};
use crate::revocation::{RevocationCache, TokenState};
use crate::vocabulary::{IdentityId, ResourceId};

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Allowance for clocks of different instances: `nbf` and `iat` may be this far ahead of ours.
pub const CLOCK_SKEW_SECS: i64 = 5;

/// A freshly minted token. No `Debug`: it is a bearer credential.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_on: OffsetDateTime,
}

/// A token that verified: signature, key, time, audience, issuer and revocation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub identity: IdentityId,
    pub scopes: ScopeSet,
    pub claims: Claims,
    pub kid: String,
}

/// Why a token is not active. Logged, never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Inactive {
    #[error("malformed token")]
    Malformed,
    #[error("unknown or retired signing key")]
    UnknownKey,
    #[error("invalid signature or claims")]
    Invalid,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("identity's tokens were revoked")]
    Revoked,
    #[error("identity was deleted")]
    Deleted,
}

/// Mints and verifies the tokens of one deployment.
pub struct TokenAuthority {
    ring: Arc<KeyRing>,
    resource: ResourceId,
    issuer: String,
    audience: String,
}

impl TokenAuthority {
    pub fn new(ring: Arc<KeyRing>, resource: ResourceId, issuer: String) -> Self {
        // Start-up checks the result; here it only makes sure signing never meets no provider.
        let _ = crate::jwt_crypto::install();
        let audience = format!("urn:acs:{resource}");
        TokenAuthority {
            ring,
            resource,
            issuer,
            audience,
        }
    }

    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.ring
    }

    pub fn resource(&self) -> &ResourceId {
        &self.resource
    }

    /// Signs a token for `identity` with `key`'s signing key.
    pub fn mint(
        &self,
        identity: IdentityId,
        request: &TokenRequest,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let iat = now.unix_timestamp();
        let iat_ms = millis(now);
        let exp = iat + i64::from(request.lifetime.seconds());
        let sub = identity.to_raw(&self.resource);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            skypeid: sub.trim_start_matches("8:").to_owned(),
            sub,
            acs_scope: request.scopes.join(","),
            resource_id: self.resource.to_string(),
            iat,
            iat_ms,
            nbf: iat,
            exp,
            jti: Uuid::new_v4().simple().to_string(),
        };
        let mut header = Header::new(key.algorithm().jwt());
        header.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, key.encoding())?;
        // Whole seconds, so `expiresOn` is exactly the `exp` claim.
        let expires_on = now - time::Duration::nanoseconds(i64::from(now.nanosecond()))
            + request.lifetime.as_duration();
        Ok(IssuedToken { token, expires_on })
    }

    /// Checks a token completely; `now` is the verifier's clock.
    pub fn verify(
        &self,
        token: &str,
        revocations: &RevocationCache,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, Inactive> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Inactive::Malformed);
        }
        let Some((message, signature)) = token.rsplit_once('.') else {
            return Err(Inactive::Malformed);
        };
        let Some((_, payload)) = message.split_once('.') else {
            return Err(Inactive::Malformed);
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| Inactive::Malformed)?;
        if header.typ.as_deref() != Some("JWT") {
            return Err(Inactive::Invalid);
        }
        let kid = header.kid.ok_or(Inactive::UnknownKey)?;
        let ring = self.ring.load();
        let key = ring
            .verifier(&kid, millis(now))
            .ok_or(Inactive::UnknownKey)?;
        // The algorithm is the key's, never the token's choice.
        let algorithm = key.algorithm().jwt();
        if header.alg != algorithm {
            return Err(Inactive::Invalid);
        }
        // jsonwebtoken checks the signature (constant time for HMAC); the claims are then read
        // once, into the typed claims, which makes every one of them required.
        let genuine =
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), key.decoding(), algorithm)
                .unwrap_or(false);
        if !genuine {
            return Err(Inactive::Invalid);
        }
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(Inactive::Invalid)?;
        // A time before 1970 is no time at all.
        let times_valid = [claims.exp, claims.nbf, claims.iat].iter().all(|t| *t >= 0);
        if !times_valid || claims.iss != self.issuer || claims.aud != self.audience {
            return Err(Inactive::Invalid);
        }

        let now = now.unix_timestamp();
        if claims.exp <= now {
            return Err(Inactive::Expired);
        }
        if claims.nbf > now + CLOCK_SKEW_SECS || claims.iat > now + CLOCK_SKEW_SECS {
            return Err(Inactive::NotYetValid);
        }
        if claims.iat_ms.div_euclid(1000) != claims.iat {
            return Err(Inactive::Invalid);
        }
        let identity =
            IdentityId::parse(&claims.sub, &self.resource).map_err(|_| Inactive::Invalid)?;
        let scopes = ScopeSet::parse(&claims.acs_scope.split(',').collect::<Vec<_>>())
            .map_err(|_| Inactive::Invalid)?;
        match revocations.state(identity, claims.iat_ms) {
            TokenState::Live => Ok(VerifiedToken {
                identity,
                scopes,
                claims,
                kid,
            }),
            TokenState::Revoked => Err(Inactive::Revoked),
            TokenState::Deleted => Err(Inactive::Deleted),
        }
    }
}

#[cfg(test)]
mod tests;
