//! Minting and verifying tokens. The caller names the signing key (see [`crate::keys`] for which
//! key signs for whom); verification picks the key by `kid` from the ring, and nothing else, and
//! asks it whether it still verifies.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Header, Validation};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Claims, ScopeSet, TokenRequest};
use crate::clock::millis;
use crate::ids::{IdentityId, ResourceId};
use crate::keys::{KeyRing, SigningKey};
use crate::revocation::{RevocationCache, TokenState};

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
    validation: Validation,
}

impl TokenAuthority {
    pub fn new(ring: Arc<KeyRing>, resource: ResourceId, issuer: String) -> Self {
        // Start-up checks the result; here it only makes sure signing never meets no provider.
        let _ = crate::jwt_crypto::install();
        let audience = format!("urn:acs:{resource}");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the caller's `now`, so it can be tested without sleeping.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        TokenAuthority {
            ring,
            resource,
            issuer,
            audience,
            validation,
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
        let exp = iat + i64::from(request.lifetime.minutes()) * 60;
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
        let mut header = Header::new(Algorithm::HS256);
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
        let header = jsonwebtoken::decode_header(token).map_err(|_| Inactive::Malformed)?;
        if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some("JWT") {
            return Err(Inactive::Invalid);
        }
        let kid = header.kid.ok_or(Inactive::UnknownKey)?;
        let ring = self.ring.load();
        let key = ring
            .verifier(&kid, millis(now))
            .ok_or(Inactive::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, key.decoding(), &self.validation)
            .map_err(|_| Inactive::Invalid)?
            .claims;

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
        match revocations.state(identity.uuid(), claims.iat_ms) {
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
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::keys::{AccessKey, KeySlot, RingState};
    use crate::revocation::Revocation;
    use crate::token::Lifetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 18:00:00 UTC);

    fn ring() -> Arc<KeyRing> {
        let slots = KeySlot::BOTH;
        let access = slots.map(|slot| AccessKey::generate(slot, 0).unwrap());
        let signing = slots.map(|slot| SigningKey::generate(slot, 0).unwrap());
        Arc::new(KeyRing::new(
            RingState::new(access.into(), signing.into()).unwrap(),
        ))
    }

    fn authority(ring: Arc<KeyRing>, resource: &str) -> TokenAuthority {
        TokenAuthority::new(
            ring,
            ResourceId::parse(resource).unwrap(),
            "https://callsign.test/".into(),
        )
    }

    /// Minting with the current key of a slot, as a request authenticated by it would.
    trait MintAs {
        fn mint_as(
            &self,
            id: IdentityId,
            request: &TokenRequest,
            slot: KeySlot,
            now: OffsetDateTime,
        ) -> Result<IssuedToken, jsonwebtoken::errors::Error>;
    }

    impl MintAs for TokenAuthority {
        fn mint_as(
            &self,
            id: IdentityId,
            request: &TokenRequest,
            slot: KeySlot,
            now: OffsetDateTime,
        ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
            self.mint(id, request, self.ring.load().signer(slot), now)
        }
    }

    fn request(minutes: i64) -> TokenRequest {
        TokenRequest {
            scopes: ScopeSet::parse(&["chat", "voip"]).unwrap(),
            lifetime: Lifetime::from_minutes(Some(minutes)).unwrap(),
        }
    }

    /// Signs arbitrary claims with the ring's primary signing key.
    fn sign_raw(ring: &KeyRing, alg: Algorithm, claims: &serde_json::Value) -> String {
        let state = ring.load();
        let key = state.signer(KeySlot::Primary);
        let mut header = Header::new(alg);
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, claims, key.encoding()).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_until_its_exp_and_not_at_it() {
        let authority = authority(ring(), "res");
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        let issued = authority
            .mint_as(id, &request(60), KeySlot::Primary, NOW)
            .unwrap();
        assert_eq!(issued.expires_on, NOW + time::Duration::minutes(60));

        let verified = authority.verify(&issued.token, &cache, NOW).unwrap();
        assert_eq!(verified.identity, id);
        assert_eq!(verified.scopes, request(60).scopes);
        let last_second = NOW + time::Duration::seconds(3599);
        assert!(authority.verify(&issued.token, &cache, last_second).is_ok());
        let at_exp = NOW + time::Duration::minutes(60);
        assert_eq!(
            authority.verify(&issued.token, &cache, at_exp),
            Err(Inactive::Expired)
        );
    }

    #[test]
    fn a_token_from_the_future_is_not_yet_valid() {
        let authority = authority(ring(), "res");
        let cache = RevocationCache::new();
        let issued = authority
            .mint_as(
                IdentityId::generate(),
                &request(60),
                KeySlot::Primary,
                NOW + time::Duration::seconds(CLOCK_SKEW_SECS + 1),
            )
            .unwrap();
        assert_eq!(
            authority.verify(&issued.token, &cache, NOW),
            Err(Inactive::NotYetValid)
        );
        let within_skew = authority
            .mint_as(
                IdentityId::generate(),
                &request(60),
                KeySlot::Primary,
                NOW + time::Duration::seconds(CLOCK_SKEW_SECS),
            )
            .unwrap();
        assert!(authority.verify(&within_skew.token, &cache, NOW).is_ok());
    }

    #[test]
    fn another_deployments_keys_or_audience_are_refused() {
        let ours = authority(ring(), "res");
        let cache = RevocationCache::new();
        let foreign = authority(ring(), "res")
            .mint_as(IdentityId::generate(), &request(60), KeySlot::Primary, NOW)
            .unwrap();
        assert_eq!(
            ours.verify(&foreign.token, &cache, NOW),
            Err(Inactive::UnknownKey)
        );

        let shared = ring();
        let other_resource = authority(shared.clone(), "other")
            .mint_as(IdentityId::generate(), &request(60), KeySlot::Primary, NOW)
            .unwrap();
        assert_eq!(
            authority(shared, "res").verify(&other_resource.token, &cache, NOW),
            Err(Inactive::Invalid)
        );
    }

    #[test]
    fn algorithm_is_pinned_and_claims_are_required() {
        let ring = ring();
        let authority = authority(ring.clone(), "res");
        let cache = RevocationCache::new();
        let valid = authority
            .mint_as(IdentityId::generate(), &request(60), KeySlot::Primary, NOW)
            .unwrap();
        let claims: serde_json::Value =
            serde_json::to_value(authority.verify(&valid.token, &cache, NOW).unwrap().claims)
                .unwrap();

        let hs512 = sign_raw(&ring, Algorithm::HS512, &claims);
        assert_eq!(
            authority.verify(&hs512, &cache, NOW),
            Err(Inactive::Invalid)
        );

        for (field, value) in [
            ("aud", json!(null)),
            ("iss", json!(null)),
            ("sub", json!(null)),
            ("exp", json!("2099-01-01")),
            ("exp", json!(1.5e300)),
            ("aud", json!(["someone-else"])),
            ("iss", json!("https://evil.test/")),
            ("acsScope", json!("chat,admin")),
            ("iatMs", json!(0)),
            ("iatMs", json!(null)),
        ] {
            let mut claims = claims.clone();
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(field);
            } else {
                claims[field] = value.clone();
            }
            let token = sign_raw(&ring, Algorithm::HS256, &claims);
            assert_eq!(
                authority.verify(&token, &cache, NOW),
                Err(Inactive::Invalid),
                "{field} = {value}"
            );
        }
    }

    #[test]
    fn revoked_and_deleted_identities_tokens_are_inactive() {
        let authority = authority(ring(), "res");
        let cache = RevocationCache::new();
        let id = IdentityId::generate();
        let old = authority
            .mint_as(id, &request(60), KeySlot::Primary, NOW)
            .unwrap();
        let cut_off = millis(NOW);
        cache.apply(
            Revocation::Revoked {
                id: id.uuid(),
                before_ms: cut_off,
            },
            0,
        );
        assert_eq!(
            authority.verify(&old.token, &cache, NOW),
            Err(Inactive::Revoked)
        );
        let new = authority
            .mint_as(
                id,
                &request(60),
                KeySlot::Secondary,
                NOW + time::Duration::milliseconds(1),
            )
            .unwrap();
        assert!(authority.verify(&new.token, &cache, NOW).is_ok());
        cache.apply(Revocation::Deleted { id: id.uuid() }, 0);
        assert_eq!(
            authority.verify(&new.token, &cache, NOW),
            Err(Inactive::Deleted)
        );
    }

    #[test]
    fn payload_never_contains_url_safe_only_base64_characters() {
        let authority = authority(ring(), "6d0c2f3e-0000-4000-8000-000000000001");
        for minutes in [60, 61, 999, 1440] {
            for _ in 0..50 {
                let issued = authority
                    .mint_as(
                        IdentityId::generate(),
                        &request(minutes),
                        KeySlot::Primary,
                        NOW,
                    )
                    .unwrap();
                let payload = issued.token.split('.').nth(1).unwrap();
                assert!(!payload.contains(['-', '_']), "{payload}");
            }
        }
    }
}
