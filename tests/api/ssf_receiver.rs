//! A Shared Signals receiver written from the specs alone (SSF 1.0, CAEP 1.0, RISC 1.0, RFC
//! 8417, 8935, 8936, 9493): it discovers the transmitter, fetches the JWKS, and checks every SET
//! it gets (signature from the JWKS, `typ`, `iss`, `aud`, `jti`, one event, `sub_id`, no `sub`
//! or `exp`); it takes pushes on a loopback port, or polls.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ring::signature;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::*;

pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
pub const ACCOUNT_PURGED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-purged";
pub const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
pub const PUSH: &str = "urn:ietf:rfc:8935";
pub const POLL: &str = "urn:ietf:rfc:8936";
pub const RECEIVER_SECRET: &str = "Bearer receiver-secret-0123456789";

/// What the receiver learnt from discovery.
pub struct Transmitter {
    pub config: Value,
    pub jwks: Value,
}

impl Transmitter {
    pub async fn discover(app: &TestApp) -> Transmitter {
        Self::discover_at(app, &format!("{}/", app.base)).await
    }

    /// Discovery of a transmitter whose issuer (its endpoint) is `issuer`, served at `app`.
    pub async fn discover_at(app: &TestApp, issuer: &str) -> Transmitter {
        // SSF §7: the well-known path goes between the host and the issuer's path.
        let well_known = format!("{}/.well-known/ssf-configuration", app.base);
        let response = app.client.get(&well_known).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let config = body(response).await;
        assert_eq!(config["issuer"], issuer);
        assert_eq!(config["spec_version"], "1_0");
        assert_eq!(config["default_subjects"], "ALL");
        let methods = config["delivery_methods_supported"].as_array().unwrap();
        assert!(methods.contains(&json!(PUSH)) && methods.contains(&json!(POLL)));
        for endpoint in [
            "jwks_uri",
            "configuration_endpoint",
            "status_endpoint",
            "add_subject_endpoint",
            "remove_subject_endpoint",
            "verification_endpoint",
        ] {
            assert!(
                config[endpoint].as_str().unwrap().starts_with(issuer),
                "{endpoint}: {config}"
            );
        }
        let mut transmitter = Transmitter {
            config,
            jwks: Value::Null,
        };
        let jwks_path = transmitter.path(app, "jwks_uri");
        let jwks = body(
            app.client
                .get(format!("{}{jwks_path}", app.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
        transmitter.jwks = jwks;
        transmitter
    }

    /// An endpoint's path, to call it at `app` (which may be reached at another address than
    /// the issuer's, as behind a load balancer).
    pub fn path(&self, _app: &TestApp, endpoint: &str) -> String {
        let issuer = self.config["issuer"]
            .as_str()
            .unwrap()
            .trim_end_matches('/');
        self.config[endpoint]
            .as_str()
            .unwrap()
            .strip_prefix(issuer)
            .unwrap()
            .to_owned()
    }

    /// Checks a SET as SSF §4 and RFC 8417 say a receiver must, and returns its claims.
    pub fn verify(&self, set: &str, stream: &Value) -> Value {
        let parts: Vec<&str> = set.split('.').collect();
        assert_eq!(parts.len(), 3, "a compact JWS");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "secevent+jwt");
        let key = self.jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["kid"] == header["kid"])
            .expect("the SET's key is in the JWKS");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(key["alg"], "RS256");
        let field = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
        signature::RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the published key");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], self.config["issuer"]);
        assert_eq!(claims["iss"], stream["iss"]);
        assert_eq!(claims["aud"], stream["aud"]);
        assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
        assert!(!claims["jti"].as_str().unwrap().is_empty());
        assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
        assert!(claims["sub_id"]["format"].is_string());
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 1, "one event per SET");
        let (kind, payload) = events.iter().next().unwrap();
        assert!(payload.is_object());
        let delivered = stream["events_delivered"].as_array().unwrap();
        assert!(
            kind == VERIFICATION || delivered.contains(&json!(kind)),
            "{kind}"
        );
        claims
    }
}

pub fn event_of(claims: &Value) -> (&str, &Value) {
    let (kind, payload) = claims["events"].as_object().unwrap().iter().next().unwrap();
    (kind.as_str(), payload)
}

pub fn identity_subject(app: &TestApp, id: &str) -> Value {
    json!({"format": "iss_sub", "iss": format!("{}/", app.base), "sub": id})
}

/// A push receiver (RFC 8935) on a loopback port: checks what every push must carry, and
/// answers 202, or 500 while it is made to fail (a number of pushes, or for a while).
pub struct Receiver {
    pub url: String,
    sets: mpsc::UnboundedReceiver<(Instant, String)>,
    refused: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct ReceiverState {
    sets: mpsc::UnboundedSender<(Instant, String)>,
    failures: Arc<AtomicUsize>,
    down_until: Option<Instant>,
    refused: Arc<AtomicUsize>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    set: String,
) -> StatusCode {
    assert_eq!(headers["content-type"], "application/secevent+jwt");
    assert_eq!(headers["accept"], "application/json");
    if headers.get("authorization").map(|v| v.to_str().unwrap()) != Some(RECEIVER_SECRET) {
        return StatusCode::UNAUTHORIZED;
    }
    let failing = state
        .failures
        .fetch_update(SeqCst, SeqCst, |left| left.checked_sub(1))
        .is_ok();
    if failing || state.down_until.is_some_and(|until| Instant::now() < until) {
        state.refused.fetch_add(1, SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    state.sets.send((Instant::now(), set)).unwrap();
    StatusCode::ACCEPTED
}

impl Receiver {
    /// Fails the first `failures` pushes with 500.
    pub async fn start(failures: usize) -> Receiver {
        Self::serve(failures, None).await
    }

    /// Fails every push with 500 for `outage`.
    pub async fn failing_for(outage: Duration) -> Receiver {
        Self::serve(0, Some(Instant::now() + outage)).await
    }

    /// How many pushes it failed.
    pub fn refused(&self) -> usize {
        self.refused.load(SeqCst)
    }

    async fn serve(failures: usize, down_until: Option<Instant>) -> Receiver {
        let (sender, sets) = mpsc::unbounded_channel();
        let refused = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState {
            sets: sender,
            failures: Arc::new(failures.into()),
            down_until,
            refused: refused.clone(),
        };
        let app = axum::Router::new()
            .route("/events", axum::routing::post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, sets, refused }
    }

    pub async fn next(&mut self, within: Duration) -> String {
        self.next_timed(within).await.1
    }

    /// The next SET and when it arrived.
    pub async fn next_timed(&mut self, within: Duration) -> (Instant, String) {
        tokio::time::timeout(within, self.sets.recv())
            .await
            .expect("a SET arrives in time")
            .unwrap()
    }

    pub async fn nothing_for(&mut self, quiet: Duration) {
        if let Ok(Some((_, set))) = tokio::time::timeout(quiet, self.sets.recv()).await {
            panic!("no SET expected, got {}", claims(&set));
        }
    }
}

pub async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    value: &Value,
) -> reqwest::Response {
    app.signed(method, path).json(value).send().await
}

pub async fn poll(app: &TestApp, path: &str, request: Value) -> Value {
    let answer = send_json(app, Method::POST, path, &request).await;
    assert_eq!(answer.status(), 200);
    let answer = body(answer).await;
    assert!(answer["sets"].is_object(), "{answer}");
    answer
}

impl Transmitter {
    /// An identity as its tokens name it: the subject Callsign's events use.
    pub fn identity_subject(&self, id: &str) -> Value {
        json!({"format": "iss_sub", "iss": self.config["issuer"], "sub": id})
    }

    /// Creates a poll stream for `events`; returns it and its poll path.
    pub async fn poll_stream(&self, app: &TestApp, events: &[&str]) -> (Value, String) {
        let streams = self.path(app, "configuration_endpoint");
        let created = send_json(
            app,
            Method::POST,
            &streams,
            &json!({ "events_requested": events }),
        )
        .await;
        assert_eq!(created.status(), 201);
        let stream = body(created).await;
        let url = stream["delivery"]["endpoint_url"].as_str().unwrap();
        let path = url
            .strip_prefix(
                self.config["issuer"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches('/'),
            )
            .unwrap()
            .to_owned();
        (stream, path)
    }

    /// Polls (acknowledging what it got) until `count` SETs arrived or `within` passed, then
    /// for a moment more, for any that follow; returns their verified claims in the order
    /// received.
    pub async fn collect(
        &self,
        app: &TestApp,
        poll_path: &str,
        stream: &Value,
        count: usize,
        within: Duration,
    ) -> Vec<Value> {
        let mut deadline = std::time::Instant::now() + within;
        let mut received = Vec::new();
        let mut ack: Vec<String> = Vec::new();
        let mut settling = false;
        while std::time::Instant::now() < deadline {
            if received.len() >= count && !settling {
                settling = true;
                deadline = std::time::Instant::now() + Duration::from_millis(300);
            }
            let answer = poll(
                app,
                poll_path,
                json!({"ack": ack, "returnImmediately": true, "maxEvents": 100}),
            )
            .await;
            ack.clear();
            for (jti, set) in answer["sets"].as_object().unwrap() {
                received.push(self.verify(set.as_str().unwrap(), stream));
                ack.push(jti.clone());
            }
            if ack.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        poll(app, poll_path, json!({"ack": ack, "maxEvents": 0})).await;
        received
    }
}
