//! The baseline for `scripts/bench`: a bare axum server that only signs (`POST /sign`) or
//! verifies (`POST /verify`) an HS256 JWT, with the same crates and claims as Callsign but no
//! authentication, storage or revocation. Usage: `bare_jwt <port> [<cert.pem> <key.pem>]`; with
//! a certificate and key it serves HTTPS with the same rustls set-up as Callsign.

// A baseline outside the service: it reads the wall clock as any bare route would.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;

use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// The same allocator as Callsign.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &[u8] = b"bare-baseline-secret-of-32-bytes!";

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    #[serde(rename = "acsScope")]
    acs_scope: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

#[derive(Deserialize)]
struct SignBody {
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct VerifyBody {
    token: String,
}

async fn sign(Json(body): Json<SignBody>) -> Json<Value> {
    let iat = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        iss: "https://bare.test/".into(),
        aud: "urn:acs:bare".into(),
        sub: format!("8:acs:bare_{}", uuid::Uuid::new_v4()),
        acs_scope: body.scopes.join(","),
        iat,
        nbf: iat,
        exp: iat + 86_400,
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("bare".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET))
        .unwrap_or_default();
    Json(json!({ "token": token, "expiresOn": claims.exp }))
}

async fn verify(Json(body): Json<VerifyBody>) -> Json<Value> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["urn:acs:bare"]);
    let active =
        jsonwebtoken::decode::<Claims>(&body.token, &DecodingKey::from_secret(SECRET), &validation)
            .is_ok();
    Json(json!({ "active": active }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // The same JWT and TLS crypto as Callsign, so the comparison measures only what Callsign adds.
    callsign::jwt_crypto::install().map_err(|_| std::io::Error::other("JWT provider"))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(9000);
    let app = Router::new()
        .route("/sign", post(sign))
        .route("/verify", post(verify))
        .into_make_service();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    // The same server as Callsign's (axum-server, HTTP/1.1 and HTTP/2), with or without TLS.
    match (args.next(), args.next()) {
        (Some(cert), Some(key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
            axum_server::bind_rustls(address, tls).serve(app).await
        }
        _ => axum_server::bind(address).serve(app).await,
    }
}
