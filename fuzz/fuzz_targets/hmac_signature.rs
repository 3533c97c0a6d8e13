//! The HMAC-SHA256 request signature check (`callsign::auth::hmac::verify`), Authorization
//! header parsing included.
//!
//! Input: newline-separated fields, then the body (any bytes):
//! `authorization \n x-ms-date \n date \n x-ms-content-sha256 \n method \n path?query \n host \n body`
//! (an empty header field is an absent header). Besides not panicking, the check must accept
//! the same request re-signed the way the SDKs sign it, with either date header.
#![no_main]

use callsign::auth::hmac::{RequestKey, SignedRequest, content_hash, sign, verify};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use time::macros::datetime;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-primary";
const OTHER: &[u8] = b"0123456789abcdef0123456789abcdef-secondary";
const NOW: OffsetDateTime = datetime!(2026-11-23 18:00:00 UTC);
const DATE: &str = "Mon, 23 Nov 2026 18:00:00 GMT";

/// An empty field is an absent header.
fn header(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(8, |&b| b == b'\n');
    let mut fields = [""; 7];
    for field in &mut fields {
        let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
            return;
        };
        *field = text;
    }
    let [
        authorization,
        x_ms_date,
        date,
        content_sha256,
        method,
        path_and_query,
        host,
    ] = fields;
    let body = parts.next().unwrap_or_default();
    let prepared = [OTHER, KEY].map(|key| RequestKey::new(key).expect("HMAC takes any key"));
    let keys = [&prepared[0], &prepared[1]];
    let request = SignedRequest {
        method,
        path_and_query,
        host,
        x_ms_date: header(x_ms_date),
        date: header(date),
        content_sha256: header(content_sha256),
        authorization: header(authorization),
        expected_host: None,
    };
    if let Ok(index) = verify(&request, body, &keys, NOW) {
        assert!(index < keys.len());
    }

    // The same request signed by an SDK with `KEY` verifies, under either date header.
    let hash = content_hash(body);
    let signature = sign(KEY, method, path_and_query, DATE, host, &hash);
    for (signed_headers, x_ms_date, date) in [
        ("x-ms-date;host;x-ms-content-sha256", Some(DATE), None),
        ("date;host;x-ms-content-sha256", None, Some(DATE)),
    ] {
        let authorization =
            format!("HMAC-SHA256 SignedHeaders={signed_headers}&Signature={signature}");
        let signed = SignedRequest {
            x_ms_date,
            date,
            content_sha256: Some(&hash),
            authorization: Some(&authorization),
            ..request
        };
        assert_eq!(verify(&signed, body, &keys, NOW), Ok(1), "{signed_headers}");
    }
});
