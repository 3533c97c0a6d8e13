use jsonwebtoken::Algorithm;
use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::keys::{AccessKey, KeySlot, RingState, TokenAlgorithm};
use crate::revocation::Revocation;
use crate::token::Lifetime;

mod hostile;

const NOW: OffsetDateTime = datetime!(2026-11-23 18:00:00 UTC);

fn ring() -> Arc<KeyRing> {
    let slots = KeySlot::BOTH;
    let access = slots.map(|slot| AccessKey::generate(slot, 0).unwrap());
    let signing = slots.map(|slot| SigningKey::generate(slot, 0, TokenAlgorithm::Hs256).unwrap());
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
    let sharing = authority(shared.clone(), "res");
    assert_eq!(
        sharing.verify(&other_resource.token, &cache, NOW),
        Err(Inactive::Invalid)
    );
    // Its subject names the other resource too: the other audience alone is refused as well.
    let valid = sharing
        .mint_as(IdentityId::generate(), &request(60), KeySlot::Primary, NOW)
        .unwrap();
    let mut claims =
        serde_json::to_value(sharing.verify(&valid.token, &cache, NOW).unwrap().claims).unwrap();
    claims["aud"] = json!("urn:acs:other");
    let their_audience = sign_raw(&shared, Algorithm::HS256, &claims);
    assert_eq!(
        sharing.verify(&their_audience, &cache, NOW),
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
        serde_json::to_value(authority.verify(&valid.token, &cache, NOW).unwrap().claims).unwrap();

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
            id,
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
    cache.apply(Revocation::Deleted { id }, 0);
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
