//! A session gateway: a service that takes Callsign's tokens, holds WebSocket sessions, and ends
//! them when Callsign says so. It shows the two halves of consuming Callsign's tokens:
//!
//! - admission: `GET /ws?token=…` opens a socket for a valid token, checked offline against
//!   `/.well-known/jwks.json` (ES256/RS256 tokens issued since its event stream began) or by
//!   `POST /tokens/:introspect` (signed with the access key as the ACS SDKs sign); the socket
//!   is registered under the token's subject, greets `welcome <sub>` and echoes text;
//! - revocation by Shared Signals: at start it creates a push stream (SSF 1.0, RFC 8935) for
//!   CAEP `session-revoked` and RISC `account-purged`; `POST /ssf` verifies each Security Event
//!   Token (signature by the transmitter's JWKS, `typ`, `iss`, `aud`) and closes the named
//!   identity's sockets with code 4001, or every socket when the whole deployment is named.
//!
//! Environment: `CALLSIGN_CONNECTION_STRING` (`endpoint=https://…/;accesskey=…`),
//! `CALLSIGN_CA_FILE` (optional, PEM: to trust Callsign's generated certificate) and
//! `GATEWAY_LISTEN` (default `127.0.0.1:0`). Once serving, it prints `listening on <address>`.

mod admission;
mod callsign;
mod jose;
mod sockets;

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

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
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{RwLock, oneshot};

use admission::{Offline, Revoked, judge, now_secs};
use callsign::Callsign;
use jose::{Jws, find_key};
use sockets::Sockets;

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const ACCOUNT_PURGED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
const SET_MEDIA_TYPE: &str = "application/secevent+jwt";
/// The close code of a revoked session's socket (4000-4999 are for applications, RFC 6455).
const REVOKED: u16 = 4001;

/// A JWK Set fetched from Callsign, fetched again when a `kid` is not among its keys (a key
/// rotated since).
struct KeySet {
    url: String,
    keys: RwLock<Value>,
}

impl KeySet {
    async fn fetch(callsign: &Callsign, url: String) -> anyhow::Result<KeySet> {
        let keys = RwLock::new(callsign.get_json(&url).await?);
        Ok(KeySet { url, keys })
    }

    async fn key(&self, callsign: &Callsign, kid: &str) -> anyhow::Result<Option<Value>> {
        if let Some(key) = find_key(&*self.keys.read().await, kid) {
            return Ok(Some(key));
        }
        let fresh = callsign.get_json(&self.url).await?;
        let key = find_key(&fresh, kid);
        *self.keys.write().await = fresh;
        Ok(key)
    }
}

/// What the handlers share.
struct Gateway {
    callsign: Callsign,
    /// The transmitter's: every SET's `iss`, and the `iss` of the tokens and identities.
    issuer: String,
    /// The SET-signing keys.
    event_keys: KeySet,
    /// The token-signing keys (none with HS256).
    token_keys: KeySet,
    /// What the transmitter sends as `Authorization` with each push: made up at start.
    push_authorization: String,
    /// The stream's `aud` and when it began (unix seconds), once it is created.
    stream: OnceLock<(String, i64)>,
    registry: Mutex<Sockets>,
    revoked: Mutex<Revoked>,
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

/// Nothing panics while holding these locks, so a poisoned one is still consistent.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gateway {
    fn registry(&self) -> MutexGuard<'_, Sockets> {
        locked(&self.registry)
    }

    /// The subject of `token` if it may open a socket: offline where it can be judged there,
    /// else by introspection.
    async fn subject(&self, token: &str) -> anyhow::Result<Option<String>> {
        let Some(jws) = Jws::parse(token) else {
            return Ok(None);
        };
        let key = match jws.kid() {
            Some(kid) => self.token_keys.key(&self.callsign, kid).await?,
            None => None,
        };
        let since = self.stream.get().map(|(_, since)| *since);
        let verdict = judge(
            &jws,
            key.as_ref(),
            &self.issuer,
            since,
            &locked(&self.revoked),
        );
        match verdict {
            Offline::Admit(sub) => Ok(Some(sub)),
            Offline::Refuse => Ok(None),
            Offline::Ask => self.callsign.introspect(token).await,
        }
    }

    /// Checks `token` and registers a socket for its subject. A revocation event that came
    /// during the check may be about this very token, so then it checks again: each
    /// revocation is either seen by the check or closes the registered socket.
    async fn admit(
        self: &Arc<Self>,
        token: &str,
    ) -> anyhow::Result<Option<(Registration, oneshot::Receiver<()>)>> {
        for _ in 0..3 {
            let epoch = self.registry().epoch;
            let Some(sub) = self.subject(token).await? else {
                return Ok(None);
            };
            let registered = self.registry().register(&sub, epoch);
            if let Some((id, closed)) = registered {
                let gateway = Arc::clone(self);
                return Ok(Some((Registration { gateway, sub, id }, closed)));
            }
        }
        bail!("revocation events kept coming during admission")
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

    /// Verifies a SET as RFC 8417 and SSF §4 ask of a receiver; returns its claims.
    async fn verify_set(&self, set: &[u8]) -> Result<Value, Refused> {
        let invalid = |description| Refused::Set("invalid_request", description);
        let set = std::str::from_utf8(set).map_err(|_| invalid("not text"))?;
        let jws = Jws::parse(set).ok_or(invalid("not a compact JWS of JSON"))?;
        if jws.header["typ"] != "secevent+jwt" {
            return Err(invalid("typ is not secevent+jwt"));
        }
        let kid = jws.kid().ok_or(invalid("no kid"))?;
        let key = match self.event_keys.key(&self.callsign, kid).await {
            Ok(key) => key.ok_or(Refused::Set("invalid_key", "no key has this kid"))?,
            Err(error) => {
                eprintln!("fetching the JWKS failed: {error:#}");
                return Err(Refused::NotNow);
            }
        };
        if !jws.verifies_with(&key) {
            return Err(Refused::Set("invalid_key", "the signature does not verify"));
        }
        let claims = jws.claims;
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(Refused::Set("invalid_issuer", "not the transmitter's iss"));
        }
        let (aud, _) = self.stream.get().ok_or(Refused::NotNow)?;
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

    /// Remembers the revocation an event names and closes the sockets it ends; other events
    /// need nothing of a gateway.
    fn act_on(&self, claims: &Value) {
        let Some((kind, payload)) = claims["events"].as_object().and_then(|e| e.iter().next())
        else {
            return;
        };
        // An account purged never comes back: all its tokens are dead.
        let at = match kind.as_str() {
            SESSION_REVOKED => payload["event_timestamp"].as_i64().unwrap_or(i64::MAX),
            ACCOUNT_PURGED => i64::MAX,
            _ => return,
        };
        let subject = &claims["sub_id"];
        let ours = |field: &str| subject[field].as_str() == Some(self.issuer.as_str());
        let closed = match (subject["format"].as_str(), subject["sub"].as_str()) {
            // An identity, named by the `iss` and `sub` of its tokens.
            (Some("iss_sub"), Some(sub)) if ours("iss") => {
                locked(&self.revoked).note(Some(sub), at);
                self.registry().close(Some(sub))
            }
            // The whole deployment (an access key regenerated): every token it issued.
            (Some("uri"), _) if ours("uri") => {
                locked(&self.revoked).note(None, at);
                self.registry().close(None)
            }
            _ => 0,
        };
        eprintln!("a revocation event closed {closed} socket(s)");
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
    let event_keys = KeySet::fetch(&callsign, jwks_uri).await?;
    let token_jwks = callsign.endpoint.join(".well-known/jwks.json")?.to_string();
    let token_keys = KeySet::fetch(&callsign, token_jwks).await?;

    let listen = std::env::var("GATEWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    let push_authorization = format!("Bearer {}", random_secret()?);
    let gateway = Arc::new(Gateway {
        callsign,
        issuer,
        event_keys,
        token_keys,
        push_authorization,
        stream: OnceLock::new(),
        registry: Mutex::default(),
        revoked: Mutex::default(),
    });
    let app = Router::new()
        .route("/ws", get(open_socket))
        .route("/ssf", post(receive_set))
        .with_state(Arc::clone(&gateway));
    // Serving before the stream exists, so that its first push finds us listening.
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let aud = gateway.create_stream(&streams, address.port()).await?;
    // Tokens issued later are judged offline: any revocation of them comes as an event.
    if gateway.stream.set((aud, now_secs())).is_err() {
        bail!("the stream was set twice");
    }
    println!("listening on {address}");
    std::io::stdout().flush()?;
    server.await??;
    Ok(())
}
