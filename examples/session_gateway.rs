//! A session gateway: a service that takes Callsign's tokens, holds WebSocket sessions, and ends
//! them when Callsign says so. It shows the two halves of consuming Callsign's tokens:
//!
//! - admission by introspection: `GET /ws?token=…` opens a socket only for a token that
//!   `POST /tokens/:introspect` (signed with the access key as the ACS SDKs sign) calls active;
//!   the socket is registered under the token's subject, greets `welcome <sub>` and echoes text;
//! - revocation by Shared Signals: at start it creates a push stream (SSF 1.0, RFC 8935) for
//!   CAEP `session-revoked` and RISC `account-purged`; `POST /ssf` verifies each Security Event
//!   Token (signature by the transmitter's JWKS, `typ`, `iss`, `aud`) and closes the named
//!   identity's sockets with code 4001, or every socket when the whole deployment is named.
//!
//! Environment: `CALLSIGN_CONNECTION_STRING` (`endpoint=https://…/;accesskey=…`),
//! `CALLSIGN_CA_FILE` (optional, PEM: to trust Callsign's generated certificate) and
//! `GATEWAY_LISTEN` (default `127.0.0.1:0`). Once serving, it prints `listening on <address>`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{RwLock, oneshot};

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const ACCOUNT_PURGED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
const SET_MEDIA_TYPE: &str = "application/secevent+jwt";
/// The close code of a revoked session's socket (4000-4999 are for applications, RFC 6455).
const REVOKED: u16 = 4001;

/// Callsign as a consuming service reaches it. No `Debug`: it holds the access key.
struct Callsign {
    http: reqwest::Client,
    endpoint: Url,
    key: Vec<u8>,
}

impl Callsign {
    fn from_env() -> anyhow::Result<Self> {
        let connection = std::env::var("CALLSIGN_CONNECTION_STRING")
            .context("CALLSIGN_CONNECTION_STRING is not set")?;
        let endpoint = setting(&connection, "endpoint").context("no endpoint= in it")?;
        // Ending in `/`, so that paths join under it.
        let endpoint = Url::parse(&format!("{}/", endpoint.trim_end_matches('/')))?;
        let key = setting(&connection, "accesskey").context("no accesskey= in it")?;
        let key = STANDARD.decode(key).context("bad accesskey")?;
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(path) = std::env::var_os("CALLSIGN_CA_FILE") {
            let pem = std::fs::read(path).context("reading CALLSIGN_CA_FILE")?;
            // Trusted beside the system's roots.
            http = http.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
        }
        let http = http.build()?;
        Ok(Callsign {
            http,
            endpoint,
            key,
        })
    }

    async fn get_json(&self, url: &str) -> anyhow::Result<Value> {
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.json().await?)
    }

    /// POSTs `body` signed as the ACS SDKs sign, which Callsign checks on its backend routes:
    /// HMAC-SHA256 of `POST\n<path and query>\n<date>;<host>;<base64 SHA-256 of the body>`.
    #[allow(
        clippy::disallowed_methods,
        reason = "a client outside Callsign dates its requests by the wall clock"
    )]
    async fn signed_post(&self, url: &Url, body: &Value) -> anyhow::Result<reqwest::Response> {
        let body = serde_json::to_vec(body)?;
        let date = httpdate::fmt_http_date(SystemTime::now());
        let hash = STANDARD.encode(Sha256::digest(&body));
        // What the client sends as `Host`: the port only when it is not the scheme's default.
        let host = url.authority();
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|_| anyhow!("HMAC refused the access key"))?;
        mac.update(format!("POST\n{path}\n{date};{host};{hash}").as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let authorization = format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        );
        let response = self
            .http
            .post(url.clone())
            .header("x-ms-date", date)
            .header("x-ms-content-sha256", hash)
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        Ok(response)
    }

    /// The subject (`8:acs:…`) of an active token; `None` for any other (revoked, expired,
    /// forged, of a deleted identity).
    async fn introspect(&self, token: &str) -> anyhow::Result<Option<String>> {
        #[derive(Deserialize)]
        struct Introspection {
            active: bool,
            sub: Option<String>,
        }
        let url = self.endpoint.join("tokens/:introspect")?;
        let response = self.signed_post(&url, &json!({ "token": token })).await?;
        let answer: Introspection = response.error_for_status()?.json().await?;
        Ok(if answer.active { answer.sub } else { None })
    }
}

/// A `name=value` of a `;`-separated connection string; names are case-insensitive.
fn setting<'a>(connection: &'a str, name: &str) -> Option<&'a str> {
    connection.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// The open sockets by subject, each with its id and the handle that closes it.
#[derive(Default)]
struct Sockets {
    by_subject: HashMap<String, Vec<(u64, oneshot::Sender<()>)>>,
    next_id: u64,
    /// Counts revocation events: an admission tells by it whether one came as it introspected.
    epoch: u64,
}

impl Sockets {
    /// Registers a socket for `sub`, unless a revocation event came since `epoch`.
    fn register(&mut self, sub: &str, epoch: u64) -> Option<(u64, oneshot::Receiver<()>)> {
        if self.epoch != epoch {
            return None;
        }
        self.next_id += 1;
        let (close, closed) = oneshot::channel();
        let sockets = self.by_subject.entry(sub.to_owned()).or_default();
        sockets.push((self.next_id, close));
        Some((self.next_id, closed))
    }

    fn forget(&mut self, sub: &str, id: u64) {
        if let Some(sockets) = self.by_subject.get_mut(sub) {
            sockets.retain(|(socket, _)| *socket != id);
            if sockets.is_empty() {
                self.by_subject.remove(sub);
            }
        }
    }

    /// Closes the sockets of `sub`, or every socket; returns how many.
    fn close(&mut self, sub: Option<&str>) -> usize {
        self.epoch += 1;
        let closing: Vec<_> = match sub {
            Some(sub) => self.by_subject.remove(sub).unwrap_or_default(),
            None => self.by_subject.drain().flat_map(|(_, all)| all).collect(),
        };
        let count = closing.len();
        for (_, close) in closing {
            // A socket that ended meanwhile has dropped its receiver: nothing to close.
            let _ = close.send(());
        }
        count
    }
}

/// What the handlers share.
struct Gateway {
    callsign: Callsign,
    /// The transmitter's: every SET's `iss`, and the `iss` of the identities it names.
    issuer: String,
    jwks_uri: String,
    /// The SET-signing keys, fetched again when a SET names a `kid` not among them.
    jwks: RwLock<Value>,
    /// What the transmitter sends as `Authorization` with each push: made up at start.
    push_authorization: String,
    /// The stream's `aud`, once it is created.
    aud: OnceLock<String>,
    registry: Mutex<Sockets>,
}

/// A socket's place in the registry; dropped with its socket (or a failed upgrade), it leaves.
struct Registration {
    gateway: Arc<Gateway>,
    sub: String,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.gateway.registry().forget(&self.sub, self.id);
    }
}

/// Why a SET was not accepted.
enum Refused {
    /// RFC 8935 §2.3: wrong for good; 400 with this `err` and `description`.
    Set(&'static str, &'static str),
    /// Not to be judged yet (no stream yet, JWKS unreachable): 503, so it comes again.
    NotNow,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Set(err, description) => {
                let body = Json(json!({ "err": err, "description": description }));
                (StatusCode::BAD_REQUEST, body).into_response()
            }
            Refused::NotNow => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

impl Gateway {
    fn registry(&self) -> MutexGuard<'_, Sockets> {
        // Nothing panics while holding the lock, so a poisoned one is still consistent.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Introspects `token` and registers a socket for its subject. A revocation event that came
    /// during the introspection may be about this very token, so then it asks again: each
    /// revocation is either seen by the introspection or closes the registered socket.
    async fn admit(
        self: &Arc<Self>,
        token: &str,
    ) -> anyhow::Result<Option<(Registration, oneshot::Receiver<()>)>> {
        for _ in 0..3 {
            let epoch = self.registry().epoch;
            let Some(sub) = self.callsign.introspect(token).await? else {
                return Ok(None);
            };
            let registered = self.registry().register(&sub, epoch);
            if let Some((id, closed)) = registered {
                let gateway = Arc::clone(self);
                return Ok(Some((Registration { gateway, sub, id }, closed)));
            }
        }
        bail!("revocation events kept coming during introspection")
    }

    /// SSF §8.1.1.1: a stream of the revocation events, pushed to our `/ssf`; returns its `aud`.
    async fn create_stream(&self, streams: &Url, port: u16) -> anyhow::Result<String> {
        let request = json!({
            "events_requested": [SESSION_REVOKED, ACCOUNT_PURGED],
            "delivery": {
                "method": "urn:ietf:rfc:8935",
                // Callsign pushes over plain HTTP to a loopback address only; elsewhere, https.
                "endpoint_url": format!("http://127.0.0.1:{port}/ssf"),
                "authorization_header": self.push_authorization,
            },
            "description": "session gateway example",
        });
        let response = self.callsign.signed_post(streams, &request).await?;
        let status = response.status();
        if status != StatusCode::CREATED {
            bail!("creating the stream: {status} {}", response.text().await?);
        }
        let stream: Value = response.json().await?;
        let aud = stream["aud"].as_str().context("the stream has no aud")?;
        Ok(aud.to_owned())
    }

    /// The JWK named `kid`: from the JWKS as last fetched, else as fetched now (the transmitter
    /// may have rotated its key).
    async fn key(&self, kid: &str) -> Result<Option<Value>, Refused> {
        if let Some(key) = find_key(&*self.jwks.read().await, kid) {
            return Ok(Some(key));
        }
        let fresh = match self.callsign.get_json(&self.jwks_uri).await {
            Ok(jwks) => jwks,
            Err(error) => {
                eprintln!("fetching the JWKS failed: {error:#}");
                return Err(Refused::NotNow);
            }
        };
        let key = find_key(&fresh, kid);
        *self.jwks.write().await = fresh;
        Ok(key)
    }

    /// Verifies a SET as RFC 8417 and SSF §4 ask of a receiver; returns its claims.
    async fn verify_set(&self, set: &[u8]) -> Result<Value, Refused> {
        let invalid = |description| Refused::Set("invalid_request", description);
        let set = std::str::from_utf8(set).map_err(|_| invalid("not text"))?;
        let (signed, signature) = set.rsplit_once('.').ok_or(invalid("not a compact JWS"))?;
        let (header, payload) = signed.split_once('.').ok_or(invalid("not a compact JWS"))?;
        let header = decode_part(header).ok_or(invalid("the header is not base64url JSON"))?;
        if header["typ"] != "secevent+jwt" {
            return Err(invalid("typ is not secevent+jwt"));
        }
        let kid = header["kid"].as_str().ok_or(invalid("no kid"))?;
        let alg = header["alg"].as_str().unwrap_or_default();
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid("the signature is not base64url"))?;
        let unknown = Refused::Set("invalid_key", "no key has this kid");
        let key = self.key(kid).await?.ok_or(unknown)?;
        if !signature_verifies(&key, alg, signed.as_bytes(), &signature) {
            return Err(Refused::Set("invalid_key", "the signature does not verify"));
        }
        let claims = decode_part(payload).ok_or(invalid("the claims are not base64url JSON"))?;
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(Refused::Set("invalid_issuer", "not the transmitter's iss"));
        }
        let aud = self.aud.get().ok_or(Refused::NotNow)?;
        let ours = |value: &Value| value.as_str() == Some(aud.as_str());
        let addressed = match &claims["aud"] {
            Value::Array(audiences) => audiences.iter().any(ours),
            audience => ours(audience),
        };
        if !addressed {
            return Err(Refused::Set("invalid_audience", "not this stream's aud"));
        }
        Ok(claims)
    }

    /// Closes the sockets a revocation event names; other events need nothing of a gateway.
    fn act_on(&self, claims: &Value) {
        let events = claims["events"].as_object();
        let revoking = |kind: &String| kind == SESSION_REVOKED || kind == ACCOUNT_PURGED;
        if !events.is_some_and(|events| events.keys().any(revoking)) {
            return;
        }
        let subject = &claims["sub_id"];
        let ours = |field: &str| subject[field].as_str() == Some(self.issuer.as_str());
        let closed = match (subject["format"].as_str(), subject["sub"].as_str()) {
            // An identity, named by the `iss` and `sub` of its tokens.
            (Some("iss_sub"), Some(sub)) if ours("iss") => self.registry().close(Some(sub)),
            // The whole deployment (an access key regenerated): every token it issued.
            (Some("uri"), _) if ours("uri") => self.registry().close(None),
            _ => 0,
        };
        eprintln!("a revocation event closed {closed} socket(s)");
    }
}

fn find_key(jwks: &Value, kid: &str) -> Option<Value> {
    let keys = jwks["keys"].as_array()?;
    keys.iter().find(|key| key["kid"] == kid).cloned()
}

fn decode_part(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Whether `signature` is `jwk`'s over `message` by `alg`: RS256 or ES256, as the key allows.
fn signature_verifies(jwk: &Value, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok();
    if jwk.get("alg").is_some_and(|allowed| allowed != alg) {
        return false;
    }
    match (alg, jwk["kty"].as_str()) {
        ("RS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return false;
            };
            let key = RsaPublicKeyComponents { n, e };
            key.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok()
        }
        ("ES256", Some("EC")) if jwk["crv"] == "P-256" => {
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return false;
            };
            // The uncompressed point: 0x04, x, y.
            let point = [vec![0x04], x, y].concat();
            let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
            key.verify(message, signature).is_ok()
        }
        _ => false,
    }
}

#[derive(Deserialize)]
struct Connect {
    token: String,
}

/// `GET /ws?token=…`. A browser cannot set headers on a WebSocket, so the token comes in the
/// query: keep these URLs out of access logs.
async fn open_socket(
    State(gateway): State<Arc<Gateway>>,
    Query(connect): Query<Connect>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match gateway.admit(&connect.token).await {
        Ok(Some((registration, closed))) => {
            upgrade.on_upgrade(move |socket| serve_socket(socket, registration, closed))
        }
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => {
            eprintln!("admitting a socket failed: {error:#}");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// Greets, echoes text, and closes with [`REVOKED`] when the registry says so.
async fn serve_socket(
    mut socket: WebSocket,
    registration: Registration,
    mut closed: oneshot::Receiver<()>,
) {
    let welcome = format!("welcome {}", registration.sub);
    if socket.send(Message::Text(welcome.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            biased;
            _ = &mut closed => {
                let frame = CloseFrame { code: REVOKED, reason: "revoked".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                // Pings are answered by axum; a Close is followed by the stream's end.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

/// `POST /ssf`: the push receiver (RFC 8935): 202 once a SET is verified and acted on.
async fn receive_set(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    set: Bytes,
) -> Response {
    let expected = gateway.push_authorization.as_bytes();
    let presented = headers.get(AUTHORIZATION).map(|value| value.as_bytes());
    if !presented.is_some_and(|presented| bool::from(presented.ct_eq(expected))) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let media_type = media_type.and_then(|value| value.split(';').next());
    if !media_type.is_some_and(|value| value.trim().eq_ignore_ascii_case(SET_MEDIA_TYPE)) {
        return Refused::Set("invalid_request", "not application/secevent+jwt").into_response();
    }
    match gateway.verify_set(&set).await {
        Ok(claims) => {
            gateway.act_on(&claims);
            StatusCode::ACCEPTED.into_response()
        }
        Err(refused) => refused.into_response(),
    }
}

/// A fresh secret for the transmitter to present with every push.
fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("no system randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let callsign = Callsign::from_env()?;

    // SSF §7: the transmitter's configuration is public, at a well-known path of the endpoint.
    let discovery = callsign.endpoint.join(".well-known/ssf-configuration")?;
    let discovery = callsign.get_json(discovery.as_str()).await?;
    let field = |name: &str| {
        let value = discovery[name].as_str().map(str::to_owned);
        value.with_context(|| format!("the SSF configuration has no {name}"))
    };
    let (issuer, jwks_uri) = (field("issuer")?, field("jwks_uri")?);
    let streams = Url::parse(&field("configuration_endpoint")?)?;
    let jwks = RwLock::new(callsign.get_json(&jwks_uri).await?);

    let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    let push_authorization = format!("Bearer {}", random_secret()?);
    let gateway = Arc::new(Gateway {
        callsign,
        issuer,
        jwks_uri,
        jwks,
        push_authorization,
        aud: OnceLock::new(),
        registry: Mutex::default(),
    });
    let app = Router::new()
        .route("/ws", get(open_socket))
        .route("/ssf", post(receive_set))
        .with_state(Arc::clone(&gateway));
    // Serving before the stream exists, so that its first push finds us listening.
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let aud = gateway.create_stream(&streams, address.port()).await?;
    if gateway.aud.set(aud).is_err() {
        bail!("the stream's aud was set twice");
    }
    println!("listening on {address}");
    std::io::stdout().flush()?;
    server.await??;
    Ok(())
}
