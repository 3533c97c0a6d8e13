//! Tokens Callsign did not mint, or did not mint as presented: other `alg` spellings, a missing
//! `kid`, another issuer's signature, a refresh token, and headers that point at keys elsewhere
//! (`jku`, `x5u`, `jwk`). All are inactive at introspection or 401 at the bearer routes, and no
//! header makes Callsign connect anywhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, crypto};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::idp::{AUDIENCE, EC_KID, ED_KID, LocalIdp};

backend_tests!(
    other_alg_spellings_and_a_missing_kid_are_inactive,
    another_issuers_tokens_are_inactive_at_introspection,
    a_refresh_token_is_not_an_access_token,
    key_hints_in_the_header_make_no_request,
);

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `header.claims` signed with `key`, the header exactly as given.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", segment(header), segment(claims));
    let signature = crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// A loopback listener that counts the connections made to it and answers none.
struct Trap {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Trap {
    async fn start() -> Trap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Trap { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn other_alg_spellings_and_a_missing_kid_are_inactive(app: TestApp) {
    let id = app.create_identity().await;
    let token = app.token_for(&id).await;
    let parts: Vec<&str> = token.split('.').collect();
    let header = decode(parts[0]);
    let with = |field: &str, value: Option<Value>| {
        let mut header = header.clone();
        match value {
            Some(value) => header[field] = value,
            None => {
                header.as_object_mut().unwrap().remove(field);
            }
        }
        segment(&header)
    };
    let mut forged = Vec::new();
    for alg in ["None", "NONE", "nOnE", "HS384", "hs256"] {
        let header = with("alg", Some(json!(alg)));
        forged.push(format!("{header}.{}.", parts[1]));
        forged.push(format!("{header}.{}.{}", parts[1], parts[2]));
    }
    for kid in [None, Some(json!("")), Some(json!(null)), Some(json!(1))] {
        forged.push(format!("{}.{}.{}", with("kid", kid), parts[1], parts[2]));
    }
    for typ in [None, Some(json!("at+jwt"))] {
        forged.push(format!("{}.{}.{}", with("typ", typ), parts[1], parts[2]));
    }
    for token in forged {
        assert_eq!(
            app.introspect(&token).await,
            json!({ "active": false }),
            "{:?}",
            decode(token.split('.').next().unwrap())
        );
    }
    assert!(app.is_active(&token).await, "the genuine token still works");
}

async fn another_issuers_tokens_are_inactive_at_introspection(app: TestApp) {
    let idp = LocalIdp::start().await;
    let id = app.create_identity().await;
    let ours = app.token_for(&id).await;
    // Our own claims and kid, signed by someone else's key pair.
    let our_claims = claims(&ours);
    let foreign = [
        idp.token("mallory"),
        idp.sign(Algorithm::EdDSA, Some(ED_KID), &idp.claims("mallory")),
        idp.sign(Algorithm::ES256, Some(&header_kid(&ours)), &our_claims),
        idp.sign(Algorithm::EdDSA, Some(&header_kid(&ours)), &our_claims),
        idp.sign(Algorithm::HS256, Some(&header_kid(&ours)), &our_claims),
    ];
    for token in foreign {
        assert_eq!(app.introspect(&token).await, json!({ "active": false }));
    }
    assert!(app.is_active(&ours).await);
}

async fn a_refresh_token_is_not_an_access_token(app: TestApp) {
    let session = app.new_session("refresh-as-access").await;
    let access = session["accessToken"]["token"].as_str().unwrap();
    let refresh = session["refreshToken"].as_str().unwrap();
    assert!(app.is_active(access).await);
    assert_eq!(app.introspect(refresh).await, json!({ "active": false }));
}

async fn key_hints_in_the_header_make_no_request(app: TestApp) {
    let trap = Trap::start().await;
    let idp = LocalIdp::start().await;
    let app = app
        .restart_with(&["--oidc-issuer", &idp.issuer, "--oidc-audience", AUDIENCE])
        .await;
    let hints = |header: &mut Value, jwk: Value| {
        header["jku"] = json!(format!("{}/jwks", trap.url));
        header["x5u"] = json!(format!("{}/cert.pem", trap.url));
        header["jwk"] = jwk;
    };

    // Our validator: our kid, an attacker's HMAC secret, and that secret in the header.
    let id = app.create_identity().await;
    let ours = app.token_for(&id).await;
    let secret = b"the attacker's own 32-byte secret";
    let mut header = decode(ours.split('.').next().unwrap());
    hints(
        &mut header,
        json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) }),
    );
    let forged = sign(
        &header,
        &claims(&ours),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    );
    assert_eq!(app.introspect(&forged).await, json!({ "active": false }));

    // The identity provider's validator: an attacker's EC key under the provider's kid, and
    // under a kid the provider does not have, with the attacker's public key in the header.
    let attacker = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = attacker.public_key_raw();
    let jwk = json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                      "y": URL_SAFE_NO_PAD.encode(&point[33..65]) });
    let key = EncodingKey::from_ec_der(attacker.serialized_der());
    for kid in [EC_KID, "attacker-1"] {
        let mut header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
        hints(&mut header, jwk.clone());
        let forged = sign(&header, &idp.claims("mallory"), &key, Algorithm::ES256);
        let response = app
            .bearer(Method::GET, "/api/token", &forged)
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "InvalidToken").await;
    }
    let genuine = app
        .bearer(Method::GET, "/api/token", &idp.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        genuine.status(),
        201,
        "the provider's own tokens still work"
    );

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(trap.connections(), 0, "no header made Callsign connect");
}
