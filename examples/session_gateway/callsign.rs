//! Callsign as a consuming service reaches it: its public documents, and the backend calls
//! signed with the access key as the ACS SDKs sign them.

use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// No `Debug`: it holds the access key.
pub struct Callsign {
    http: reqwest::Client,
    pub endpoint: Url,
    key: Vec<u8>,
}

impl Callsign {
    /// From `CALLSIGN_CONNECTION_STRING` and, to trust a generated certificate,
    /// `CALLSIGN_CA_FILE`.
    pub fn from_env() -> anyhow::Result<Self> {
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
        Ok(Callsign {
            http: http.build()?,
            endpoint,
            key,
        })
    }

    pub async fn get_json(&self, url: &str) -> anyhow::Result<Value> {
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.json().await?)
    }

    /// POSTs `body` signed as the ACS SDKs sign, which Callsign checks on its backend routes:
    /// HMAC-SHA256 of `POST\n<path and query>\n<date>;<host>;<base64 SHA-256 of the body>`.
    #[allow(
        clippy::disallowed_methods,
        reason = "a client outside Callsign dates its requests by the wall clock"
    )]
    pub async fn signed_post(&self, url: &Url, body: &Value) -> anyhow::Result<reqwest::Response> {
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
    pub async fn introspect(&self, token: &str) -> anyhow::Result<Option<String>> {
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
