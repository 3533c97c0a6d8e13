//! A client for the ACS-compatible API that signs requests as the Azure SDKs do (HMAC-SHA256
//! with an access key), with knobs to break the signature.

use callsign::auth::hmac::{content_hash, sign};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{API, TestApp, body};
use crate::test_logs::{record_secret, record_secrets_in};

/// A request signed as the SDKs sign, with knobs to break it.
pub struct Signed<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    body: Vec<u8>,
    sent_body: Option<Vec<u8>>,
    key: Vec<u8>,
    date: String,
    content_type: Option<&'static str>,
    sign: bool,
    bearer: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl<'a> Signed<'a> {
    pub fn json(mut self, value: &Value) -> Self {
        record_secrets_in(value);
        self.body = serde_json::to_vec(value).unwrap();
        self
    }
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn content_type(mut self, value: Option<&'static str>) -> Self {
        self.content_type = value;
        self
    }
    pub fn key(mut self, key: &[u8]) -> Self {
        self.key = key.to_vec();
        self
    }
    pub fn date(mut self, date: String) -> Self {
        self.date = date;
        self
    }
    /// Sends `body` while the signature covers the body set before.
    pub fn send_instead(mut self, body: &[u8]) -> Self {
        self.sent_body = Some(body.to_vec());
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.sign = false;
        self
    }
    /// Also sends this header (not signed, as the SDKs sign only date, host and body hash).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// Also sends `Authorization: Bearer <token>`, beside the signature.
    pub fn with_bearer(mut self, token: &str) -> Self {
        record_secret(token);
        self.bearer = Some(token.to_owned());
        self
    }

    pub async fn send(self) -> Response {
        self.try_send().await.expect("request sent")
    }

    /// [`Signed::send`], for a server that may have gone away.
    pub async fn try_send(self) -> reqwest::Result<Response> {
        let url = format!("{}{}", self.app.base, self.path);
        let mut request = self.app.client.request(self.method.clone(), url);
        if self.sign {
            let hash = content_hash(&self.body);
            let signature = sign(
                &self.key,
                self.method.as_str(),
                &self.path,
                &self.date,
                &self.app.host,
                &hash,
            )
            .expect("HMAC takes any key");
            request = request
                .header("x-ms-date", &self.date)
                .header("x-ms-content-sha256", hash)
                .header(
                    "authorization",
                    format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"),
                );
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
            .body(self.sent_body.unwrap_or(self.body))
            .send()
            .await
    }
}

/// Now, as an HTTP date, shifted by `seconds`.
pub fn http_date(offset_seconds: i64) -> String {
    let at = std::time::SystemTime::now()
        .checked_add(std::time::Duration::from_secs(offset_seconds.max(0) as u64))
        .and_then(|t| {
            t.checked_sub(std::time::Duration::from_secs(
                (-offset_seconds).max(0) as u64
            ))
        })
        .unwrap();
    httpdate::fmt_http_date(at)
}

impl TestApp {
    pub fn signed(&self, method: Method, path: &str) -> Signed<'_> {
        Signed {
            app: self,
            method,
            path: path.to_owned(),
            body: Vec::new(),
            sent_body: None,
            key: self.primary_key.clone(),
            date: http_date(0),
            content_type: Some("application/json"),
            sign: true,
            bearer: None,
            headers: Vec::new(),
        }
    }

    pub fn post(&self, path: &str) -> Signed<'_> {
        self.signed(Method::POST, path)
    }

    /// Creates an identity and returns its id.
    pub async fn create_identity(&self) -> String {
        let response = self.post(&format!("/identities?{API}")).send().await;
        assert_eq!(response.status(), 201);
        body(response).await["identity"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn issue(&self, id: &str, request: Value) -> Response {
        self.issue_with_key(id, request, &self.primary_key.clone())
            .await
    }

    pub async fn issue_with_key(&self, id: &str, request: Value, key: &[u8]) -> Response {
        self.post(&identity_path(id, "/:issueAccessToken"))
            .json(&request)
            .key(key)
            .send()
            .await
    }

    /// Issues a `chat` token and returns it.
    pub async fn token_for(&self, id: &str) -> String {
        let response = self.issue(id, json!({ "scopes": ["chat"] })).await;
        assert_eq!(response.status(), 200);
        body(response).await["token"].as_str().unwrap().to_owned()
    }

    pub async fn revoke(&self, id: &str) -> Response {
        self.post(&identity_path(id, "/:revokeAccessTokens"))
            .send()
            .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let response = self
            .post("/tokens/:introspect")
            .json(&json!({ "token": token }))
            .send()
            .await;
        assert_eq!(response.status(), 200);
        body(response).await
    }

    pub async fn is_active(&self, token: &str) -> bool {
        self.is_active_with_key(token, &self.primary_key.clone())
            .await
    }

    /// Introspects with a request signed by `key`.
    pub async fn is_active_with_key(&self, token: &str, key: &[u8]) -> bool {
        let response = self
            .post("/tokens/:introspect")
            .json(&json!({ "token": token }))
            .key(key)
            .send()
            .await;
        assert_eq!(response.status(), 200);
        body(response).await["active"].as_bool().unwrap()
    }
}

/// `/identities/<percent-encoded id><suffix>?api-version=…`
pub fn identity_path(id: &str, suffix: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/identities/{encoded}{suffix}?{API}")
}
