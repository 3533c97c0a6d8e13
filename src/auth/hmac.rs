//! Verification of ACS HMAC-SHA256 request signatures, exactly as the Azure SDKs sign:
//!
//! ```text
//! Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>
//! string-to-sign = VERB "\n" path?query "\n" <date> ";" <host> ";" <x-ms-content-sha256>
//! ```
//!
//! Pure functions over strings and bytes; the caller supplies the clock and the keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// How far a request's date may be from ours, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// An access key ready to check signatures with: the HMAC state after the key, computed once
/// rather than for every request. No `Debug`: it stands for the key.
#[derive(Clone)]
pub struct RequestKey(Hmac<Sha256>);

impl RequestKey {
    /// `None` only for a key HMAC cannot take (it takes any length; strength is checked
    /// where keys are made).
    pub fn new(secret: &[u8]) -> Option<Self> {
        Hmac::<Sha256>::new_from_slice(secret).ok().map(RequestKey)
    }
}

/// The signed parts of a request, as received (the signature is a credential: no `Debug`).
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub host: &'a str,
    /// `x-ms-date` value.
    pub x_ms_date: Option<&'a str>,
    /// `Date` value.
    pub date: Option<&'a str>,
    pub content_sha256: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// The host a signature must be for (`CALLSIGN_STRICT_HOST`), compared with `host`
    /// case-insensitively; `None`: any.
    pub expected_host: Option<&'a str>,
}

/// Why a request was refused. Logged for operators; clients get one uniform answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("no Authorization header")]
    MissingAuthorization,
    #[error("Authorization header is not HMAC-SHA256 with the signed headers ACS uses")]
    MalformedAuthorization,
    #[error("date header missing or not an HTTP date")]
    BadDate,
    #[error("date outside the allowed clock skew")]
    StaleDate,
    #[error("x-ms-content-sha256 missing or not the hash of the body")]
    BadContentHash,
    #[error("signed for another host than the endpoint's (CALLSIGN_STRICT_HOST)")]
    WrongHost,
    #[error("signature matches no active access key")]
    BadSignature,
}

/// Which date header the client signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateHeader {
    XMsDate,
    Date,
}

struct Authorization {
    date_header: DateHeader,
    signature: Vec<u8>,
}

fn parse_authorization(value: &str) -> Result<Authorization, AuthFailure> {
    let params = value
        .strip_prefix("HMAC-SHA256 ")
        .ok_or(AuthFailure::MalformedAuthorization)?;
    let mut signed_headers = None;
    let mut signature = None;
    for param in params.split('&') {
        match param.split_once('=') {
            Some(("SignedHeaders", v)) if signed_headers.is_none() => signed_headers = Some(v),
            // The signature is base64 and may itself end in '='.
            Some(("Signature", v)) if signature.is_none() => signature = Some(v),
            _ => return Err(AuthFailure::MalformedAuthorization),
        }
    }
    let date_header = match signed_headers.map(str::to_ascii_lowercase).as_deref() {
        Some("x-ms-date;host;x-ms-content-sha256") => DateHeader::XMsDate,
        Some("date;host;x-ms-content-sha256") => DateHeader::Date,
        _ => return Err(AuthFailure::MalformedAuthorization),
    };
    let signature = STANDARD
        .decode(signature.ok_or(AuthFailure::MalformedAuthorization)?)
        .map_err(|_| AuthFailure::MalformedAuthorization)?;
    Ok(Authorization {
        date_header,
        signature,
    })
}

/// The SHA-256 of the signature an `Authorization` header carries, decoded: what identifies a
/// signed request however its header is spelled (parameter order, `SignedHeaders` case, which
/// date header), since the same signature can be sent in several spellings. `None` if the
/// header is malformed.
pub fn signature_digest(authorization: &str) -> Option<[u8; 32]> {
    let parsed = parse_authorization(authorization).ok()?;
    Some(Sha256::digest(&parsed.signature).into())
}

/// The base64 SHA-256 of a body, as `x-ms-content-sha256` carries it.
pub fn content_hash(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// Signs a request the way the SDKs do (used by tests and the fuzz targets); `None` only for a
/// key HMAC refuses (none: it takes keys of any length).
pub fn sign(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    hash: &str,
) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(string_to_sign(method, path_and_query, date, host, hash).as_bytes());
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

fn string_to_sign(
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    hash: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{date};{host};{hash}")
}

/// Checks a request against the active access keys; returns the index of the key that signed it.
///
/// Every key is tried (no early exit on the first key), and signatures are compared in constant
/// time. Two client quirks are tolerated: the async Python SDK signs the percent-decoded path
/// (only where decoding moves no boundary, see [`decoded_for_quirk`]), and the Python SDK given
/// `https://host/` signs the host with its trailing slash.
pub fn verify(
    request: &SignedRequest<'_>,
    body: &[u8],
    keys: &[&RequestKey],
    now: OffsetDateTime,
) -> Result<usize, AuthFailure> {
    let authorization = parse_authorization(
        request
            .authorization
            .ok_or(AuthFailure::MissingAuthorization)?,
    )?;
    let date = match authorization.date_header {
        DateHeader::XMsDate => request.x_ms_date,
        DateHeader::Date => request.date,
    }
    .ok_or(AuthFailure::BadDate)?;
    let sent_at = httpdate::parse_http_date(date).map_err(|_| AuthFailure::BadDate)?;
    let sent_at = OffsetDateTime::from(sent_at);
    if (now - sent_at).whole_seconds().abs() > MAX_CLOCK_SKEW_SECS {
        return Err(AuthFailure::StaleDate);
    }

    let hash = request.content_sha256.ok_or(AuthFailure::BadContentHash)?;
    if !bool::from(content_hash(body).as_bytes().ct_eq(hash.as_bytes())) {
        return Err(AuthFailure::BadContentHash);
    }

    if let Some(expected) = request.expected_host
        && !request.host.eq_ignore_ascii_case(expected)
    {
        return Err(AuthFailure::WrongHost);
    }

    let matches = |path: &str, host: &str| {
        let message = string_to_sign(request.method, path, date, host, hash);
        match_key(&message, &authorization.signature, keys)
    };
    // The exact request first; the quirks only when it does not match.
    matches(request.path_and_query, request.host)
        .or_else(|| matches(request.path_and_query, &format!("{}/", request.host)))
        .or_else(|| {
            let decoded = decoded_for_quirk(request.path_and_query)?;
            matches(&decoded, request.host)
                .or_else(|| matches(&decoded, &format!("{}/", request.host)))
        })
        .ok_or(AuthFailure::BadSignature)
}

/// The index of the key whose HMAC of `message` is `signature`. Each comparison is
/// constant-time. A signature that matches no key is checked against every key; the search
/// stops at the key that signed, which tells the timing only what the signer already knows.
fn match_key(message: &str, signature: &[u8], keys: &[&RequestKey]) -> Option<usize> {
    keys.iter().position(|key| {
        let mut mac = key.0.clone();
        mac.update(message.as_bytes());
        mac.verify_slice(signature).is_ok()
    })
}

/// The percent-decoded form a signature may cover instead of `raw`, unless decoding would
/// move a boundary: an encoded `/` or `?` in the path before or after decoding (`%2F`, `%3F`,
/// `%252F`, any case), since a signature over `/identities/a/b` would admit `/identities/a%2Fb`,
/// another resource; or an encoded `&`, `=`, `#` or `+` in the query, since a signature over
/// `a=1&b=2` would admit `a=1%26b=2`, one parameter where two were signed.
fn decoded_for_quirk(raw: &str) -> Option<String> {
    let decoded = percent_decode(raw)?;
    let path = |s: &str| s.split('?').next().unwrap_or_default().to_ascii_lowercase();
    let moves_a_boundary = |path: String| path.contains("%2f") || path.contains("%3f");
    if moves_a_boundary(path(raw)) || moves_a_boundary(path(&decoded)) {
        return None;
    }
    let query = raw.split_once('?').map_or("", |(_, query)| query);
    let query = query.to_ascii_lowercase();
    if ["%26", "%3d", "%23", "%2b"]
        .iter()
        .any(|encoded| query.contains(encoded))
    {
        return None;
    }
    Some(decoded)
}

/// The percent-decoded form, if it differs and is valid UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
