//! Which tokens open a socket. With `CALLSIGN_TOKEN_ALGORITHM=ES256` or `RS256` a token is
//! checked offline against Callsign's published token keys, when it was issued after this
//! gateway's event stream began (so any revocation of it reaches the gateway as an event,
//! remembered here); any other token (HS256, or older than the stream) is introspected.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::jose::Jws;

/// How far a token's `nbf` may be ahead of this clock.
const SKEW_SECS: i64 = 5;

/// Revocations heard of: per subject, tokens issued at or before a second are dead.
#[derive(Default)]
pub struct Revoked {
    by_subject: HashMap<String, i64>,
    /// Every token issued at or before this second is dead (an access key regenerated).
    everything_before: i64,
}

impl Revoked {
    /// Tokens of `sub` (of everyone, for `None`) issued at or before `at` are dead.
    pub fn note(&mut self, sub: Option<&str>, at: i64) {
        match sub {
            Some(sub) => {
                let cut = self.by_subject.entry(sub.to_owned()).or_insert(at);
                *cut = (*cut).max(at);
            }
            None => self.everything_before = self.everything_before.max(at),
        }
    }

    fn kills(&self, sub: &str, iat: i64) -> bool {
        iat <= self.everything_before || self.by_subject.get(sub).is_some_and(|cut| iat <= *cut)
    }
}

/// What the offline check decided.
pub enum Offline {
    /// Verified and not revoked: the socket opens for this subject.
    Admit(String),
    /// Not a token of Callsign's, expired, or revoked.
    Refuse,
    /// Not one to judge offline (HS256, or issued before the stream began): introspect it.
    Ask,
}

/// Unix seconds by this machine's clock.
#[allow(
    clippy::disallowed_methods,
    reason = "a service outside Callsign checks expiry by the wall clock"
)]
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

/// Judges `token` with `key` (the token key its `kid` names, if any): the signature by that
/// key's algorithm, `typ`, `iss`, `aud` (`urn:acs:<resourceId>`), `exp`, `nbf`; then whether a
/// revocation heard of since `stream_since` kills it.
pub fn judge(
    jws: &Jws<'_>,
    key: Option<&Value>,
    issuer: &str,
    stream_since: Option<i64>,
    revoked: &Revoked,
) -> Offline {
    let asymmetric = matches!(jws.header["alg"].as_str(), Some("ES256" | "RS256"));
    if !asymmetric {
        return Offline::Ask;
    }
    let Some(key) = key else {
        return Offline::Refuse;
    };
    let claims = &jws.claims;
    let resource = claims["resourceId"].as_str().unwrap_or_default();
    let valid = jws.header["typ"] == "JWT"
        && jws.verifies_with(key)
        && claims["iss"].as_str() == Some(issuer)
        && claims["aud"].as_str() == Some(format!("urn:acs:{resource}").as_str());
    let (Some(sub), Some(iat), Some(exp), Some(nbf)) = (
        claims["sub"].as_str(),
        claims["iat"].as_i64(),
        claims["exp"].as_i64(),
        claims["nbf"].as_i64(),
    ) else {
        return Offline::Refuse;
    };
    let now = now_secs();
    if !valid || exp <= now || nbf > now + SKEW_SECS {
        return Offline::Refuse;
    }
    // A revocation from before the stream began was never heard of here.
    if stream_since.is_none_or(|since| iat <= since) {
        return Offline::Ask;
    }
    if revoked.kills(sub, iat) {
        return Offline::Refuse;
    }
    Offline::Admit(sub.to_owned())
}
