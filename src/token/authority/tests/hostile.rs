//! Tokens carrying this deployment's own signature but a header or claims it never mints: the
//! algorithm, `typ` and `kid` are pinned, key hints in the header are ignored, and time claims of
//! the wrong type or range are refused without panicking.

use jsonwebtoken::crypto;
use serde_json::{Value, json};

use super::*;

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `header.claims` signed with `alg` by the ring's primary signing key, headers exactly as given.
fn signed(ring: &KeyRing, alg: Algorithm, header: &Value, claims: &Value) -> String {
    let state = ring.load();
    let message = format!("{}.{}", segment(header), segment(claims));
    let signature = crypto::sign(
        message.as_bytes(),
        state.signer(KeySlot::Primary).encoding(),
        alg,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// A ring, an authority over it, a genuine token's header and claims.
fn genuine() -> (Arc<KeyRing>, TokenAuthority, Value, Value) {
    let ring = ring();
    let authority = authority(ring.clone(), "res");
    let token = authority
        .mint_as(IdentityId::generate(), &request(60), KeySlot::Primary, NOW)
        .unwrap()
        .token;
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    (ring, authority, header, claims)
}

#[test]
fn the_genuine_header_and_claims_verify_when_re_signed() {
    let (ring, authority, header, claims) = genuine();
    let token = signed(&ring, Algorithm::HS256, &header, &claims);
    assert!(
        authority
            .verify(&token, &RevocationCache::new(), NOW)
            .is_ok()
    );
}

#[test]
fn only_hs256_is_accepted_whatever_the_spelling() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let mut forged = header.clone();
        forged["alg"] = json!(format!("{alg:?}"));
        let token = signed(&ring, alg, &forged, &claims);
        assert_eq!(
            authority.verify(&token, &cache, NOW),
            Err(Inactive::Invalid),
            "{alg:?} with our key"
        );
    }
    for alg in ["none", "None", "NONE", "nOnE", "hs256", "", "RS256"] {
        let mut forged = header.clone();
        forged["alg"] = json!(alg);
        let unsigned = format!("{}.{}.", segment(&forged), segment(&claims));
        let with_our_mac = signed(&ring, Algorithm::HS256, &forged, &claims);
        for token in [unsigned, with_our_mac] {
            let verdict = authority.verify(&token, &cache, NOW);
            assert!(
                matches!(verdict, Err(Inactive::Malformed | Inactive::Invalid)),
                "alg {alg:?}: {verdict:?}"
            );
        }
    }
}

#[test]
fn typ_must_be_jwt() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    for typ in [
        json!(null),
        json!("at+jwt"),
        json!("JWS"),
        json!("jwt"),
        json!(1),
    ] {
        let mut forged = header.clone();
        if typ.is_null() {
            forged.as_object_mut().unwrap().remove("typ");
        } else {
            forged["typ"] = typ.clone();
        }
        let token = signed(&ring, Algorithm::HS256, &forged, &claims);
        let verdict = authority.verify(&token, &cache, NOW);
        assert!(
            matches!(verdict, Err(Inactive::Malformed | Inactive::Invalid)),
            "typ {typ}: {verdict:?}"
        );
    }
}

#[test]
fn a_missing_or_hostile_kid_finds_no_key() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    let mut without = header.clone();
    without.as_object_mut().unwrap().remove("kid");
    let token = signed(&ring, Algorithm::HS256, &without, &claims);
    assert_eq!(
        authority.verify(&token, &cache, NOW),
        Err(Inactive::UnknownKey)
    );
    for kid in [
        "",
        "../../../../etc/passwd",
        "' OR 1=1 --",
        "\u{0}",
        &"k".repeat(1000),
    ] {
        let mut forged = header.clone();
        forged["kid"] = json!(kid);
        let token = signed(&ring, Algorithm::HS256, &forged, &claims);
        assert_eq!(
            authority.verify(&token, &cache, NOW),
            Err(Inactive::UnknownKey),
            "kid {kid:.40?}"
        );
    }
    let mut huge = header.clone();
    huge["kid"] = json!("k".repeat(10_000));
    let token = signed(&ring, Algorithm::HS256, &huge, &claims);
    assert_eq!(
        authority.verify(&token, &cache, NOW),
        Err(Inactive::Malformed),
        "refused by length before any parsing"
    );
    let mut number = header.clone();
    number["kid"] = json!(7);
    let token = signed(&ring, Algorithm::HS256, &number, &claims);
    assert_eq!(
        authority.verify(&token, &cache, NOW),
        Err(Inactive::Malformed)
    );
}

#[test]
fn key_hints_in_the_header_are_ignored() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    let attacker = b"an attacker's own secret, 32 bytes";
    let attacker_jwk = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker) });
    let mut hinted = header.clone();
    hinted["jku"] = json!("http://127.0.0.1:9/jwks");
    hinted["x5u"] = json!("http://127.0.0.1:9/cert.pem");
    hinted["jwk"] = attacker_jwk;

    // Signed by our key, the hints change nothing: the key is chosen by `kid` alone.
    let ours = signed(&ring, Algorithm::HS256, &hinted, &claims);
    assert!(authority.verify(&ours, &cache, NOW).is_ok());

    let message = format!("{}.{}", segment(&hinted), segment(&claims));
    let key = jsonwebtoken::EncodingKey::from_secret(attacker);
    let signature = crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    assert_eq!(
        authority.verify(&format!("{message}.{signature}"), &cache, NOW),
        Err(Inactive::Invalid),
        "the attacker's embedded key is not used"
    );
}

#[test]
fn time_claims_of_the_wrong_type_or_range_are_refused() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    let now = NOW.unix_timestamp();
    let cases = [
        ("exp", json!("2099-01-01"), Inactive::Invalid),
        ("exp", json!((now + 600) as f64 + 0.5), Inactive::Invalid),
        ("exp", json!(true), Inactive::Invalid),
        ("exp", json!(null), Inactive::Invalid),
        ("exp", json!(u64::MAX), Inactive::Invalid),
        // A time before 1970 is no time at all.
        ("exp", json!(-1), Inactive::Invalid),
        ("exp", json!(i64::MIN), Inactive::Invalid),
        ("exp", json!(now - 1), Inactive::Expired),
        ("nbf", json!("now"), Inactive::Invalid),
        ("nbf", json!(now as f64), Inactive::Invalid),
        ("nbf", json!(null), Inactive::Invalid),
        ("nbf", json!(u64::MAX), Inactive::Invalid),
        ("nbf", json!(i64::MAX), Inactive::NotYetValid),
        ("iat", json!("now"), Inactive::Invalid),
        ("iat", json!(1.5), Inactive::Invalid),
        ("iat", json!(null), Inactive::Invalid),
        ("iat", json!(u64::MAX), Inactive::Invalid),
        ("iat", json!(i64::MAX), Inactive::NotYetValid),
        ("iat", json!(-1), Inactive::Invalid),
        ("iatMs", json!(i64::MIN), Inactive::Invalid),
        ("iatMs", json!(u64::MAX), Inactive::Invalid),
    ];
    let mut wrong = Vec::new();
    for (field, value, expected) in cases {
        let mut claims = claims.clone();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(field);
        } else {
            claims[field] = value.clone();
        }
        let token = signed(&ring, Algorithm::HS256, &header, &claims);
        let verdict = authority.verify(&token, &cache, NOW);
        if verdict != Err(expected) {
            wrong.push(format!(
                "{field} = {value}: {verdict:?}, expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn an_iat_in_the_future_is_refused_even_when_nbf_is_now() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    let now = NOW.unix_timestamp();
    let issued_at = |iat: i64| {
        let mut claims = claims.clone();
        claims["iat"] = json!(iat);
        claims["iatMs"] = json!(iat * 1000);
        claims["nbf"] = json!(now);
        claims["exp"] = json!(now + 7200);
        signed(&ring, Algorithm::HS256, &header, &claims)
    };
    for ahead in [CLOCK_SKEW_SECS + 1, 3600, 365 * 24 * 3600] {
        assert_eq!(
            authority.verify(&issued_at(now + ahead), &cache, NOW),
            Err(Inactive::NotYetValid),
            "iat {ahead} s ahead"
        );
    }
    assert!(
        authority
            .verify(&issued_at(now + CLOCK_SKEW_SECS), &cache, NOW)
            .is_ok()
    );
}

#[test]
fn a_changed_payload_or_a_token_of_other_than_three_parts_is_refused() {
    let (ring, authority, header, claims) = genuine();
    let cache = RevocationCache::new();
    let token = signed(&ring, Algorithm::HS256, &header, &claims);
    let parts: Vec<&str> = token.split('.').collect();
    let mut changed = claims.clone();
    changed["acsScope"] = json!("chat");
    let swapped = format!("{}.{}.{}", parts[0], segment(&changed), parts[2]);
    assert_eq!(
        authority.verify(&swapped, &cache, NOW),
        Err(Inactive::Invalid)
    );
    for shape in [
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[1], parts[2]),
        parts[0].to_owned(),
    ] {
        assert_eq!(
            authority.verify(&shape, &cache, NOW),
            Err(Inactive::Malformed),
            "{shape}"
        );
    }
}
