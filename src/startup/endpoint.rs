//! The public endpoint: the URL put in connection strings and the tokens' `iss`, and the host
//! access-key signatures must be for when that is enforced.

use std::net::SocketAddr;

use crate::config::{Config, Switch, TlsMode, normalize_endpoint};

/// `CALLSIGN_ENDPOINT`, or the URL of the bound address (unspecified IPs shown as 127.0.0.1).
pub fn public_endpoint(config: &Config, bound: SocketAddr) -> anyhow::Result<String> {
    match &config.endpoint {
        Some(raw) => normalize_endpoint(raw).map_err(anyhow::Error::msg),
        None => Ok(default_endpoint(bound, config.tls.mode == TlsMode::On)),
    }
}

/// The host signatures must be for, with `CALLSIGN_STRICT_HOST=on`.
pub(super) fn signed_host(config: &Config, endpoint: &str) -> Option<String> {
    if config.strict_host == Switch::Off {
        return None;
    }
    let host = endpoint_host(endpoint);
    if config.endpoint.is_none() {
        tracing::warn!(
            host,
            "CALLSIGN_STRICT_HOST=on without CALLSIGN_ENDPOINT: only signatures for the default endpoint's host count; set CALLSIGN_ENDPOINT to the URL clients use"
        );
    }
    Some(host.to_owned())
}

/// The `host[:port]` of a normalised endpoint (`scheme://host[:port]/`).
fn endpoint_host(endpoint: &str) -> &str {
    endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/')
}

fn default_endpoint(address: SocketAddr, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    let host = if address.ip().is_unspecified() {
        format!("127.0.0.1:{}", address.port())
    } else {
        address.to_string()
    };
    format!("{scheme}://{host}/")
}
