//! Fetching an issuer's JWKS (through its discovery document unless the JWKS URL is given),
//! bounded in every way a provider, or whoever answers in its place, could abuse: each fetch
//! (discovery and JWKS together) has [`FETCH_TIMEOUT`], a document is read chunk by chunk and
//! refused past [`MAX_DOCUMENT_BYTES`], redirects are not followed, and only https (or http on a
//! loopback address) is spoken.

use std::net::IpAddr;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use super::OidcSettings;

/// The longest one fetch of the keys may take, discovery included, however the provider
/// answers (slowly, or dripping its body).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or JWKS read. Real ones weigh a few kilobytes; an answer of
/// megabytes is refused after reading this much, so it cannot cost more memory.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why the keys could not be fetched. Logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: the document is larger than the {limit} bytes allowed")]
    TooLarge { url: String, limit: usize },
    #[error("GET {url}: not the expected JSON: {source}")]
    NotJson {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Url(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

/// https, or http on a loopback address only.
pub fn check_url(what: &str, url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        })
        .map(|host| host.trim_start_matches('[').trim_end_matches(']'));
    let loopback = host.is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "{what} '{url}' must be https (http only on a loopback address)"
        ))
    }
}

/// The HTTP client that fetches an issuer's keys.
pub(super) struct KeyFetcher {
    http: reqwest::Client,
}

impl KeyFetcher {
    pub(super) fn new() -> Result<Self, String> {
        // reqwest needs a process-wide TLS provider; a second install is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // No timeout of the client's own: `fetch` bounds discovery and JWKS together, and a
        // second timer of the same length would race it and name the failure at random.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the JWKS client: {e}"))?;
        Ok(KeyFetcher { http })
    }

    /// The issuer's current JWKS, within [`FETCH_TIMEOUT`] altogether.
    pub(super) async fn fetch(&self, settings: &OidcSettings) -> Result<JwkSet, FetchError> {
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch_unbounded(settings))
            .await
            .map_err(|_| FetchError::Timeout(FETCH_TIMEOUT))?
    }

    async fn fetch_unbounded(&self, settings: &OidcSettings) -> Result<JwkSet, FetchError> {
        let url = match &settings.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    settings.issuer.trim_end_matches('/')
                );
                let found: Discovery = self.get_json(&discovery).await?;
                check_url("the discovered JWKS URL", &found.jwks_uri).map_err(FetchError::Url)?;
                found.jwks_uri
            }
        };
        self.get_json(&url).await
    }

    /// GETs `url` and parses its body, read chunk by chunk and refused past
    /// [`MAX_DOCUMENT_BYTES`] (whether announced by `Content-Length` or not).
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let http = |source: reqwest::Error| FetchError::Http {
            url: url.to_owned(),
            source: source.without_url(),
        };
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit: MAX_DOCUMENT_BYTES,
        };
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|source| FetchError::NotJson {
            url: url.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://idp.example/",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/x",
            "http://[::1]:9/",
        ] {
            assert!(check_url("u", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example/",
            "http://127.0.0.1.evil.example/",
            "ftp://x",
            "http://10.0.0.1/",
        ] {
            assert!(check_url("u", bad).is_err(), "{bad}");
        }
    }
}
