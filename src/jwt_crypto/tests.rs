//! Round trips through jsonwebtoken with Callsign's provider; asymmetric tokens also come from
//! an independent implementation (pyca/cryptography: tests/jwt_vectors/generate.py).

use crate::jwt_crypto;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::{Value, json};

const VECTORS: &str = include_str!("../../tests/jwt_vectors/vectors.json");

fn setup() -> Value {
    jwt_crypto::install().expect("our provider is the default");
    serde_json::from_str(VECTORS).unwrap()
}

fn b64d(s: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s.as_str().unwrap()).unwrap()
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_audience(&["api://test"]);
    v.set_issuer(&["https://idp.example"]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v
}

fn claims() -> Value {
    json!({ "iss": "https://idp.example", "aud": "api://test", "sub": "alice", "exp": 4102444800u64 })
}

fn tamper(token: &str) -> String {
    // Flip a bit in the middle of the signature (not the last char: its low bits may be padding).
    let (msg, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let mid = sig.len() / 2;
    sig[mid] ^= 1;
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn kind(r: jsonwebtoken::errors::Result<impl Sized>) -> ErrorKind {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e) => e.into_kind(),
    }
}

#[test]
fn hs256_round_trip() {
    setup();
    let secret = [7u8; 32];
    let token = encode(
        &Header::default(),
        &claims(),
        &EncodingKey::from_secret(&secret),
    )
    .unwrap();
    let got = decode::<Value>(
        &token,
        &DecodingKey::from_secret(&secret),
        &validation(Algorithm::HS256),
    )
    .unwrap();
    assert_eq!(got.claims, claims());
    // 32-byte tag, base64url without padding.
    assert_eq!(token.rsplit_once('.').unwrap().1.len(), 43);

    let wrong = DecodingKey::from_secret(&[8u8; 32]);
    assert!(matches!(
        kind(decode::<Value>(
            &token,
            &wrong,
            &validation(Algorithm::HS256)
        )),
        ErrorKind::InvalidSignature
    ));
    let key = DecodingKey::from_secret(&secret);
    assert!(matches!(
        kind(decode::<Value>(
            tamper(&token),
            &key,
            &validation(Algorithm::HS256)
        )),
        ErrorKind::InvalidSignature
    ));
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = encode(
            &Header::new(alg),
            &claims(),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        decode::<Value>(&t, &key, &validation(alg)).unwrap();
    }
}

#[test]
fn hs256_known_answer() {
    setup();
    // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
    let sig = jsonwebtoken::crypto::sign(
        b"what do ya want for nothing?",
        &EncodingKey::from_secret(b"Jefe"),
        Algorithm::HS256,
    )
    .unwrap();
    let hex: String = URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn independent_vectors_verify_from_jwk() {
    let v = setup();
    for vector in v["vectors"].as_array().unwrap() {
        let alg: Algorithm = vector["alg"].as_str().unwrap().parse().unwrap();
        let jwk: Jwk = serde_json::from_value(vector["jwk"].clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let token = vector["token"].as_str().unwrap();
        let got = decode::<Value>(token, &key, &validation(alg))
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(got.claims, v["claims"], "{alg:?}");
        assert!(
            matches!(
                kind(decode::<Value>(tamper(token), &key, &validation(alg))),
                ErrorKind::InvalidSignature
            ),
            "{alg:?} accepted a tampered signature"
        );
    }
}

#[test]
fn rsa_sign_and_verify_with_der_and_components() {
    let v = setup();
    let private = EncodingKey::from_rsa_der(&b64d(&v["rsa_private_pkcs1_der"]));
    let public_der = DecodingKey::from_rsa_der(&b64d(&v["rsa_public_pkcs1_der"]));
    let jwk: Jwk = serde_json::from_value(v["vectors"][0]["jwk"].clone()).unwrap();
    let public_jwk = DecodingKey::from_jwk(&jwk).unwrap();
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::RS512,
        Algorithm::PS384,
    ] {
        let token = encode(&Header::new(alg), &claims(), &private).unwrap();
        decode::<Value>(&token, &public_der, &validation(alg)).unwrap();
        decode::<Value>(&token, &public_jwk, &validation(alg)).unwrap();
    }
    // KeyUtils: (n, e) from the private key and from the PKCS#1 public key match the JWK.
    let from_private = Jwk::from_encoding_key(&private, Algorithm::RS256).unwrap();
    let from_public = Jwk::from_decoding_key(&public_der, Some(Algorithm::RS256)).unwrap();
    for derived in [from_private, from_public] {
        assert_eq!(derived.algorithm, jwk.algorithm);
        assert_eq!(
            derived.thumbprint(ThumbprintHash::SHA256).unwrap(),
            jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
        );
    }
}

fn jwk_for(pair: &rcgen::KeyPair, alg: Algorithm) -> Jwk {
    let raw = pair.public_key_raw();
    let value = match alg {
        Algorithm::ES256 => {
            json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..]) })
        }
        Algorithm::ES384 => {
            json!({ "kty": "EC", "crv": "P-384", "x": URL_SAFE_NO_PAD.encode(&raw[1..49]), "y": URL_SAFE_NO_PAD.encode(&raw[49..]) })
        }
        _ => json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(raw) }),
    };
    serde_json::from_value(value).unwrap()
}

#[test]
fn rcgen_keys_es256_es384_eddsa_round_trip() {
    setup();
    for (alg, rcgen_alg) in [
        (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256),
        (Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384),
        (Algorithm::EdDSA, &rcgen::PKCS_ED25519),
    ] {
        let pair = rcgen::KeyPair::generate_for(rcgen_alg).unwrap();
        let signing = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(pair.serialized_der()),
            _ => EncodingKey::from_ec_der(pair.serialized_der()),
        };
        let token = encode(&Header::new(alg), &claims(), &signing).unwrap();
        let jwk = jwk_for(&pair, alg);
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        decode::<Value>(&token, &key, &validation(alg)).unwrap();
        assert!(matches!(
            kind(decode::<Value>(tamper(&token), &key, &validation(alg))),
            ErrorKind::InvalidSignature
        ));
        // KeyUtils: the JWK derived from the private key is the published one. (jsonwebtoken
        // itself only accepts 48-byte PKCS#8 v1 Ed25519 keys here; rcgen's are v2.)
        if alg != Algorithm::EdDSA {
            let derived = Jwk::from_encoding_key(&signing, alg).unwrap();
            assert_eq!(derived.algorithm, jwk.algorithm, "{alg:?}");
        }
    }
}

#[test]
fn ed25519_pkcs8_v1_from_openssl_signs() {
    let v = setup();
    let signing = EncodingKey::from_ed_der(&b64d(&v["ed25519_private_pkcs8_v1_der"]));
    let token = encode(&Header::new(Algorithm::EdDSA), &claims(), &signing).unwrap();
    let jwk: Jwk = serde_json::from_value(v["vectors"][8]["jwk"].clone()).unwrap();
    decode::<Value>(
        &token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation(Algorithm::EdDSA),
    )
    .unwrap();
    let derived = Jwk::from_encoding_key(&signing, Algorithm::EdDSA).unwrap();
    assert_eq!(derived.algorithm, jwk.algorithm);
}

#[test]
fn key_and_algorithm_confusion_is_refused() {
    setup();
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ec_key = DecodingKey::from_jwk(&jwk_for(&ec, Algorithm::ES256)).unwrap();
    // HS256 "signed" with the EC public key's bytes, checked against the EC key.
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(ec.public_key_raw()),
    )
    .unwrap();
    assert!(decode::<Value>(&forged, &ec_key, &validation(Algorithm::HS256)).is_err());
    assert!(decode::<Value>(&forged, &ec_key, &validation(Algorithm::ES256)).is_err());
    // An ES256 token against an RSA key; an EdDSA key fed to ES256.
    let es = encode(
        &Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_der(ec.serialized_der()),
    )
    .unwrap();
    let rsa = DecodingKey::from_rsa_components("AQAB", "AQAB").unwrap();
    assert!(matches!(
        kind(decode::<Value>(&es, &rsa, &validation(Algorithm::ES256))),
        ErrorKind::InvalidKeyFormat
    ));
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ed_key = DecodingKey::from_jwk(&jwk_for(&ed, Algorithm::EdDSA)).unwrap();
    assert!(decode::<Value>(&es, &ed_key, &validation(Algorithm::ES256)).is_err());
    // A short/garbage Ed25519 key does not panic (the rust_crypto backend slices [..32]).
    let short = DecodingKey::from_ed_components("AAAA").unwrap();
    let eddsa = encode(
        &Header::new(Algorithm::EdDSA),
        &claims(),
        &EncodingKey::from_ed_der(ed.serialized_der()),
    )
    .unwrap();
    assert!(matches!(
        kind(decode::<Value>(
            &eddsa,
            &short,
            &validation(Algorithm::EdDSA)
        )),
        ErrorKind::InvalidSignature
    ));
}
