//! A local OpenID Connect provider for the tests: keys it generates (ES256 and EdDSA), a
//! discovery document and a JWKS it serves over loopback HTTP, counting JWKS fetches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::test_logs::record_secret;

pub const AUDIENCE: &str = "api://callsign-test";
/// What backends' client-credentials tokens are for (the Azure SDKs' default).
pub const BACKEND_AUDIENCE: &str = "https://communication.azure.com";

/// The roles the provider grants each client of its client-credentials grant; every client's
/// secret is `<client id>-secret`.
fn roles_of(client: &str) -> Vec<&'static str> {
    match client {
        "backend-by-role" => vec!["Callsign.Backend"],
        "backend-admin" => vec!["Callsign.Backend", "Callsign.Admin"],
        _ => vec![],
    }
}

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: String,
    client_id: String,
    client_secret: String,
}

pub struct LocalIdp {
    pub issuer: String,
    ec: rcgen::KeyPair,
    ed: rcgen::KeyPair,
    fetches: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

pub const EC_KID: &str = "ec-1";
pub const ED_KID: &str = "ed-1";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl LocalIdp {
    pub async fn start() -> Self {
        callsign::jwt_crypto::install().unwrap();
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let point = ec.public_key_raw();
        let jwks = json!({ "keys": [
            { "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
              "kid": EC_KID, "alg": "ES256", "use": "sig" },
            { "kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key_raw()),
              "kid": ED_KID, "alg": "EdDSA", "use": "sig" },
        ]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let discovery = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") });
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let signing = EncodingKey::from_ec_der(ec.serialized_der());
        let token_issuer = issuer.clone();
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Json(jwks)
                }),
            )
            .route(
                "/token",
                axum::routing::post(move |axum::Form(form): axum::Form<TokenForm>| async move {
                    let valid = form.grant_type == "client_credentials"
                        && form.client_secret == format!("{}-secret", form.client_id);
                    if !valid {
                        return Err(axum::http::StatusCode::UNAUTHORIZED);
                    }
                    let claims =
                        client_claims(&token_issuer, &form.client_id, &roles_of(&form.client_id));
                    let mut header = Header::new(Algorithm::ES256);
                    header.kid = Some(EC_KID.to_owned());
                    let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
                    record_secret(&form.client_secret);
                    record_secret(&token);
                    Ok(Json(
                        json!({ "access_token": token, "token_type": "Bearer", "expires_in": 600 }),
                    ))
                }),
            );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        LocalIdp {
            issuer,
            ec,
            ed,
            fetches,
            stop: Some(stop),
        }
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Takes the IdP down.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    /// Valid claims for `sub`, expiring in ten minutes.
    pub fn claims(&self, sub: &str) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({ "iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600 })
    }

    /// A client-credentials token for a backend, as the provider's token endpoint issues it.
    pub fn client_token(&self, client: &str, roles: &[&str]) -> String {
        self.sign(
            Algorithm::ES256,
            Some(EC_KID),
            &client_claims(&self.issuer, client, roles),
        )
    }

    /// The provider's token endpoint (client-credentials grant).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// An ES256 token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        self.sign(Algorithm::ES256, Some(EC_KID), &self.claims(sub))
    }

    pub fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(self.ec.serialized_der()),
            Algorithm::EdDSA => EncodingKey::from_ed_der(self.ed.serialized_der()),
            // An attacker's trick: HMAC with the public key's bytes as the secret.
            _ => EncodingKey::from_secret(self.ec.public_key_raw()),
        };
        let token = jsonwebtoken::encode(&header, claims, &key).unwrap();
        record_secret(&token);
        token
    }

    /// A token with `alg: none` and no signature.
    pub fn unsigned(&self, sub: &str) -> String {
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64(self.claims(sub).to_string().as_bytes());
        let token = format!("{header}.{payload}.");
        record_secret(&token);
        token
    }
}

/// The claims of a client-credentials token, Entra ID style (`azp` and `roles`).
fn client_claims(issuer: &str, client: &str, roles: &[&str]) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({ "iss": issuer, "aud": BACKEND_AUDIENCE, "sub": client, "azp": client, "roles": roles,
            "iat": now, "nbf": now, "exp": now + 600 })
}

impl Drop for LocalIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
