//! Request signatures checked against fixed keys and a fixed instant: what passes, what is
//! refused and why, and the SDK quirks tolerated.

use super::*;
use time::macros::datetime;

/// [`super::sign`], which cannot fail for any key.
fn sign(key: &[u8], method: &str, path: &str, date: &str, host: &str, hash: &str) -> String {
    super::sign(key, method, path, date, host, hash).unwrap()
}

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-primary";
const OTHER: &[u8] = b"0123456789abcdef0123456789abcdef-secondary";
const NOW: OffsetDateTime = datetime!(2026-11-23 18:00:00 UTC);
const DATE: &str = "Mon, 23 Nov 2026 18:00:00 GMT";
const PATH: &str = "/identities?api-version=2023-10-01";
const HOST: &str = "127.0.0.1:8443";

fn authorization(signature: &str) -> String {
    format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}")
}

fn check(
    body: &[u8],
    auth: &str,
    date: &str,
    hash: &str,
    path: &str,
) -> Result<usize, AuthFailure> {
    let request = SignedRequest {
        method: "POST",
        path_and_query: path,
        host: HOST,
        x_ms_date: Some(date),
        date: None,
        content_sha256: Some(hash),
        authorization: Some(auth),
        expected_host: None,
    };
    verify_keys(&request, body)
}

fn verify_keys(request: &SignedRequest<'_>, body: &[u8]) -> Result<usize, AuthFailure> {
    let keys = [OTHER, KEY].map(|key| RequestKey::new(key).expect("HMAC takes any key"));
    verify(request, body, &[&keys[0], &keys[1]], NOW)
}

fn signed(key: &[u8], body: &[u8], date: &str, path: &str) -> (String, String) {
    let hash = content_hash(body);
    (
        authorization(&sign(key, "POST", path, date, HOST, &hash)),
        hash,
    )
}

#[test]
fn a_correctly_signed_request_names_its_key() {
    let (auth, hash) = signed(KEY, b"{}", DATE, PATH);
    assert_eq!(check(b"{}", &auth, DATE, &hash, PATH), Ok(1));
    let (auth, hash) = signed(OTHER, b"{}", DATE, PATH);
    assert_eq!(check(b"{}", &auth, DATE, &hash, PATH), Ok(0));
}

#[test]
fn one_signature_has_one_digest_however_its_header_is_spelled() {
    let signature = sign(KEY, "POST", PATH, DATE, HOST, &content_hash(b"{}"));
    let spellings = [
        authorization(&signature),
        format!(
            "HMAC-SHA256 SignedHeaders=X-MS-DATE;Host;x-ms-content-sha256&Signature={signature}"
        ),
        format!(
            "HMAC-SHA256 Signature={signature}&SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        ),
        format!("HMAC-SHA256 SignedHeaders=date;host;x-ms-content-sha256&Signature={signature}"),
    ];
    let digests: Vec<_> = spellings.iter().map(|a| signature_digest(a)).collect();
    assert!(digests[0].is_some());
    assert!(digests.iter().all(|d| *d == digests[0]), "{spellings:?}");
    let other = sign(KEY, "POST", PATH, DATE, HOST, &content_hash(b"{ }"));
    assert_ne!(signature_digest(&authorization(&other)), digests[0]);
    assert_eq!(signature_digest("HMAC-SHA256 nonsense"), None);
}

#[test]
fn the_empty_body_hash_matches_the_sdks() {
    assert_eq!(
        content_hash(b""),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}

#[test]
fn tampering_is_refused() {
    let (auth, hash) = signed(KEY, b"{}", DATE, PATH);
    assert_eq!(
        check(b"{ }", &auth, DATE, &hash, PATH),
        Err(AuthFailure::BadContentHash)
    );
    let other_hash = content_hash(b"{ }");
    assert_eq!(
        check(b"{ }", &auth, DATE, &other_hash, PATH),
        Err(AuthFailure::BadSignature)
    );
    assert_eq!(
        check(
            b"{}",
            &auth,
            DATE,
            &hash,
            "/identities?api-version=2099-01-01"
        ),
        Err(AuthFailure::BadSignature)
    );
    let (wrong, hash) = signed(b"not-our-key-not-our-key-not-our-key", b"{}", DATE, PATH);
    assert_eq!(
        check(b"{}", &wrong, DATE, &hash, PATH),
        Err(AuthFailure::BadSignature)
    );
}

#[test]
fn dates_outside_the_window_are_refused_and_inside_accepted() {
    for (date, ok) in [
        ("Mon, 23 Nov 2026 17:45:00 GMT", true),
        ("Mon, 23 Nov 2026 17:44:59 GMT", false),
        ("Mon, 23 Nov 2026 18:15:00 GMT", true),
        ("Mon, 23 Nov 2026 18:15:01 GMT", false),
    ] {
        let (auth, hash) = signed(KEY, b"", date, PATH);
        let result = check(b"", &auth, date, &hash, PATH);
        assert_eq!(result.is_ok(), ok, "{date}: {result:?}");
        if !ok {
            assert_eq!(result, Err(AuthFailure::StaleDate));
        }
    }
    let (auth, hash) = signed(KEY, b"", "yesterday", PATH);
    assert_eq!(
        check(b"", &auth, "yesterday", &hash, PATH),
        Err(AuthFailure::BadDate)
    );
}

#[test]
fn malformed_authorization_headers_are_refused() {
    let (good, hash) = signed(KEY, b"", DATE, PATH);
    let signature = good.rsplit_once("Signature=").unwrap().1.to_owned();
    for bad in [
        String::new(),
        "Bearer abc".into(),
        good.replace("HMAC-SHA256", "hmac-sha256"),
        good.replace("x-ms-date;host;", "host;x-ms-date;"),
        good.replace(";host", ""),
        format!("{good}&Extra=1"),
        format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}&Signature={signature}"
        ),
        authorization("!!not-base64!!"),
    ] {
        let result = check(b"", &bad, DATE, &hash, PATH);
        assert!(
            matches!(result, Err(AuthFailure::MalformedAuthorization)),
            "{bad:?}: {result:?}"
        );
    }
    assert_eq!(
        check(b"", &authorization("AAAA"), DATE, &hash, PATH),
        Err(AuthFailure::BadSignature)
    );
}

#[test]
fn the_decoded_path_quirk_of_the_async_python_sdk_is_tolerated() {
    let wire = "/identities/8%3Aacs%3Ax_1?api-version=2023-10-01";
    let decoded = "/identities/8:acs:x_1?api-version=2023-10-01";
    let (auth, hash) = signed(KEY, b"", DATE, decoded);
    assert_eq!(check(b"", &auth, DATE, &hash, wire), Ok(1));
}

#[test]
fn the_decoded_path_quirk_does_not_reach_across_an_encoded_slash_or_question_mark() {
    for (wire, decoded) in [
        (
            "/identities/a%2Fb?api-version=1",
            "/identities/a/b?api-version=1",
        ),
        (
            "/identities/a%2fb?api-version=1",
            "/identities/a/b?api-version=1",
        ),
        (
            "/identities/a%3Fb?api-version=1",
            "/identities/a?b?api-version=1",
        ),
        ("/identities/a%3fb", "/identities/a?b"),
        // Decoded once, `%252F` is `%2F`: a signature over that path names another id.
        ("/identities/a%252Fb", "/identities/a%2Fb"),
        ("/identities/8%3Aacs%3Ax%2F1", "/identities/8:acs:x/1"),
    ] {
        let (auth, hash) = signed(KEY, b"", DATE, decoded);
        assert_eq!(
            check(b"", &auth, DATE, &hash, wire),
            Err(AuthFailure::BadSignature),
            "{wire}"
        );
    }
    // Nor across an encoded `&`, `=`, `#` or `+` in the query: one parameter where two were
    // signed.
    for (wire, decoded) in [
        (
            "/identities/8%3Aacs%3Ax_1?api-version=1%26b=2",
            "/identities/8:acs:x_1?api-version=1&b=2",
        ),
        (
            "/identities/8%3Aacs%3Ax_1?api-version%3D1",
            "/identities/8:acs:x_1?api-version=1",
        ),
        (
            "/identities/8%3Aacs%3Ax_1?api-version=1%2b2",
            "/identities/8:acs:x_1?api-version=1+2",
        ),
    ] {
        let (auth, hash) = signed(KEY, b"", DATE, decoded);
        assert_eq!(
            check(b"", &auth, DATE, &hash, wire),
            Err(AuthFailure::BadSignature),
            "{wire}"
        );
    }
    // An encoded slash in the query moves no path boundary.
    let wire = "/identities/8%3Aacs%3Ax_1?api-version=2023-10-01&next=%2Fa";
    let decoded = "/identities/8:acs:x_1?api-version=2023-10-01&next=/a";
    let (auth, hash) = signed(KEY, b"", DATE, decoded);
    assert_eq!(check(b"", &auth, DATE, &hash, wire), Ok(1));
}

#[test]
fn a_bound_host_refuses_signatures_for_another_host() {
    let hash = content_hash(b"");
    let check_host = |host: &str, expected_host| {
        let auth = authorization(&sign(KEY, "POST", PATH, DATE, host, &hash));
        let request = SignedRequest {
            method: "POST",
            path_and_query: PATH,
            host,
            x_ms_date: Some(DATE),
            date: None,
            content_sha256: Some(&hash),
            authorization: Some(&auth),
            expected_host,
        };
        verify_keys(&request, b"")
    };
    let bound = Some("callsign.example:8443");
    assert_eq!(check_host("callsign.example:8443", bound), Ok(1));
    assert_eq!(check_host("Callsign.Example:8443", bound), Ok(1));
    // Signed, correctly, for another host: fine unbound, refused bound.
    assert_eq!(check_host("other.example", None), Ok(1));
    assert_eq!(
        check_host("other.example", bound),
        Err(AuthFailure::WrongHost)
    );
    assert_eq!(
        check_host("callsign.example:9443", bound),
        Err(AuthFailure::WrongHost)
    );
}

#[test]
fn percent_decoding_handles_edges() {
    assert_eq!(percent_decode("/a%3Ab"), Some("/a:b".into()));
    assert_eq!(percent_decode("/a%3"), Some("/a%3".into()));
    assert_eq!(percent_decode("/a%zz"), None);
    assert_eq!(percent_decode("/plain"), None);
    assert_eq!(percent_decode("/%FF"), None);
}
