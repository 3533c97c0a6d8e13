//! Tokens that consuming services verify on their own: with `CALLSIGN_TOKEN_ALGORITHM=ES256` or
//! `RS256` an access token verifies with nothing but `/.well-known/jwks.json` (checked here with
//! ring alone, as any JOSE library would), while introspection, revocation and the switch from
//! one algorithm to another keep working; with HS256 the document holds no key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde_json::Value;

use crate::helpers::*;

backend_tests!(tokens_verify_offline_with_the_published_keys_and_switching_kills_none);

async fn jwks(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await
}

/// Verifies `token` as a consuming service would: the key its `kid` names, the algorithm that
/// key states.
fn verifies_offline(token: &str, jwks: &Value) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
    else {
        return false;
    };
    assert_eq!(key["alg"], header["alg"]);
    let field = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    match key["kty"].as_str().unwrap() {
        "RSA" => signature::RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &signature,
        )
        .is_ok(),
        _ => {
            let mut point = vec![4];
            point.extend(field("x"));
            point.extend(field("y"));
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &signature)
                .is_ok()
        }
    }
}

fn alg(token: &str) -> String {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

async fn tokens_verify_offline_with_the_published_keys_and_switching_kills_none(app: TestApp) {
    // One endpoint throughout, so tokens name the same issuer across restarts.
    const ENDPOINT: [&str; 2] = ["--endpoint", "https://callsign.test/"];
    let mut app = app.restart_with(&ENDPOINT).await;
    // HS256 (the default): nothing is public.
    assert_eq!(jwks(&app).await["keys"], serde_json::json!([]));
    let id = app.create_identity().await;
    let hs256 = app.token_for(&id).await;
    assert_eq!(alg(&hs256), "HS256");

    let mut tokens = vec![hs256];
    for algorithm in ["ES256", "RS256"] {
        app = app
            .restart_with(&[ENDPOINT[0], ENDPOINT[1], "--token-algorithm", algorithm])
            .await;
        let published = jwks(&app).await;
        let token = app.token_for(&id).await;
        assert_eq!(alg(&token), algorithm);
        assert!(verifies_offline(&token, &published), "{algorithm}");
        // Altered claims do not verify.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["acs_scope"] = "chat,voip".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(!verifies_offline(&parts.join("."), &published));
        // Every earlier token still works: the keys that signed them are retained.
        for earlier in &tokens {
            assert!(app.is_active(earlier).await, "{}", alg(earlier));
        }
        assert!(app.is_active(&token).await);
        tokens.push(token);
    }
    // Revocation reaches tokens of every algorithm.
    assert_eq!(app.revoke(&id).await.status(), 204);
    for token in &tokens {
        assert!(!app.is_active(token).await, "{}", alg(token));
    }
}
