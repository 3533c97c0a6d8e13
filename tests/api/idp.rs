//! A local OpenID Connect provider for the tests: keys it generates (ES256 and EdDSA), a
//! discovery document and a JWKS it serves over loopback HTTP, counting JWKS fetches. It can be
//! told to misbehave on either document ([`LocalIdp::misbehave`]) and to rotate its keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
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

/// How the provider answers one of its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Answers only after a minute: longer than any client should wait.
    Slow,
    /// Sends its headers at once, then the body one byte every 200 ms.
    Dripping,
    /// 500.
    Failing,
    /// 10 MB: the real document padded with a huge field, streamed without a length.
    Huge,
    /// 200 with a body that is not JSON.
    Garbled,
}

impl Behaviour {
    pub const HOSTILE: [Behaviour; 5] = [
        Behaviour::Slow,
        Behaviour::Dripping,
        Behaviour::Failing,
        Behaviour::Huge,
        Behaviour::Garbled,
    ];
}

/// The provider's two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Discovery,
    Jwks,
}

/// What the provider serves now.
struct Serving {
    discovery: Behaviour,
    jwks: Behaviour,
    /// The EC key is also published under [`ROTATED_KID`].
    rotated: bool,
}

pub struct LocalIdp {
    pub issuer: String,
    ec: rcgen::KeyPair,
    ed: rcgen::KeyPair,
    fetches: Arc<AtomicUsize>,
    serving: Arc<Mutex<Serving>>,
    stop: Option<oneshot::Sender<()>>,
}

pub const EC_KID: &str = "ec-1";
pub const ED_KID: &str = "ed-1";
/// The EC key's id once the provider has rotated ([`LocalIdp::rotate`]).
pub const ROTATED_KID: &str = "ec-2";
/// The size of a [`Behaviour::Huge`] answer.
pub const HUGE_BYTES: usize = 10 * 1024 * 1024;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl LocalIdp {
    pub async fn start() -> Self {
        callsign::jwt_crypto::install().unwrap();
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let point = ec.public_key_raw();
        let ec_jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]),
            "y": b64(&point[33..65]), "alg": "ES256", "use": "sig" });
        let ed_jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key_raw()),
            "kid": ED_KID, "alg": "EdDSA", "use": "sig" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let discovery = json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") });
        let fetches = Arc::new(AtomicUsize::new(0));
        let serving = Arc::new(Mutex::new(Serving {
            discovery: Behaviour::Healthy,
            jwks: Behaviour::Healthy,
            rotated: false,
        }));
        let counter = fetches.clone();
        let signing = EncodingKey::from_ec_der(ec.serialized_der());
        let token_issuer = issuer.clone();
        let (on_discovery, on_jwks) = (serving.clone(), serving.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let behaviour = on_discovery.lock().unwrap().discovery;
                    answer(behaviour, discovery.clone())
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let serving = on_jwks.lock().unwrap();
                    let mut keys = vec![with_kid(&ec_jwk, EC_KID), ed_jwk.clone()];
                    if serving.rotated {
                        keys.push(with_kid(&ec_jwk, ROTATED_KID));
                    }
                    answer(serving.jwks, json!({ "keys": keys }))
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
            serving,
            stop: Some(stop),
        }
    }

    /// From now on, answers `document` the way `behaviour` says.
    pub fn misbehave(&self, document: Document, behaviour: Behaviour) {
        let mut serving = self.serving.lock().unwrap();
        match document {
            Document::Discovery => serving.discovery = behaviour,
            Document::Jwks => serving.jwks = behaviour,
        }
    }

    /// Answers both documents properly again.
    pub fn heal(&self) {
        self.misbehave(Document::Discovery, Behaviour::Healthy);
        self.misbehave(Document::Jwks, Behaviour::Healthy);
    }

    /// Publishes the EC key under [`ROTATED_KID`] too, as a provider does when it rotates.
    pub fn rotate(&self) {
        self.serving.lock().unwrap().rotated = true;
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

    /// The claims of a client-credentials token for `client` with `roles`, to alter and sign.
    pub fn client_claims(&self, client: &str, roles: &[&str]) -> Value {
        client_claims(&self.issuer, client, roles)
    }

    /// An ES256 token (EC key, its `kid` unless `header` names one) with the given header.
    pub fn sign_with_header(&self, mut header: Header, claims: &Value) -> String {
        header.alg = Algorithm::ES256;
        header.kid = header.kid.or_else(|| Some(EC_KID.to_owned()));
        let key = EncodingKey::from_ec_der(self.ec.serialized_der());
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

fn with_kid(jwk: &Value, kid: &str) -> Value {
    let mut jwk = jwk.clone();
    jwk["kid"] = json!(kid);
    jwk
}

/// `document` served the way `behaviour` says.
async fn answer(behaviour: Behaviour, document: Value) -> Response {
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    match behaviour {
        Behaviour::Healthy => Json(document).into_response(),
        Behaviour::Slow => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Json(document).into_response()
        }
        Behaviour::Dripping => {
            let bytes = document.to_string().into_bytes();
            let drip = futures_util::stream::unfold(bytes.into_iter(), |mut rest| async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let byte = rest.next()?;
                Some((Ok::<_, std::io::Error>(Bytes::from(vec![byte])), rest))
            });
            (json, Body::from_stream(drip)).into_response()
        }
        Behaviour::Failing => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "the provider is having a bad day",
        )
            .into_response(),
        Behaviour::Huge => {
            // Spliced in as text: serialising 10 MB through serde would stall the test's runtime.
            let rest = document.to_string();
            let padded = format!(r#"{{"padding":"{}",{}"#, "x".repeat(HUGE_BYTES), &rest[1..]);
            let bytes = Bytes::from(padded);
            let chunks: Vec<_> = (0..bytes.len())
                .step_by(64 * 1024)
                .map(|at| {
                    Ok::<_, std::io::Error>(bytes.slice(at..(at + 64 * 1024).min(bytes.len())))
                })
                .collect();
            (json, Body::from_stream(futures_util::stream::iter(chunks))).into_response()
        }
        Behaviour::Garbled => (json, "<html>Service Unavailable</html>").into_response(),
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
