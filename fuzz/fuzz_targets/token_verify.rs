//! The access-token verifier (`TokenAuthority::verify`) over a real key ring: two valid signing
//! keys, a retained one and one whose time is up; one identity's tokens revoked, another deleted.
//!
//! The first byte, modulo 3 (the seeds use ASCII `0`, `1`, `2`), says what the rest is:
//! - 0: a token, verbatim;
//! - 1: a claims payload, signed as Callsign signs (HS256, `typ` JWT, the primary `kid`);
//! - 2: a header, a newline, a payload, signed with the key the header's `kid` names (else the
//!   primary one), so a fuzzed header gets past the signature too.
//!
//! Signing the fuzzer's payloads takes it past the signature to the claim checks. Besides not
//! panicking, a token that verifies must be unexpired, signed by a key that still verifies and
//! for an identity of this deployment.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callsign::fuzzing::{NOW, SIGNING_KIDS, token_authority};
use callsign::vocabulary::IdentityId;
use callsign::keys::KeySlot;
use callsign::revocation::{Revocation, RevocationCache};
use callsign::token::TokenAuthority;
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;

const REVOKED: &str = "8:acs:fuzz-resource_00000000-0000-4000-8000-000000000001";
const DELETED: &str = "8:acs:fuzz-resource_00000000-0000-4000-8000-000000000002";

struct Verifier {
    authority: TokenAuthority,
    revocations: RevocationCache,
}

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let authority = token_authority().expect("token authority");
    let revocations = RevocationCache::new();
    let now_ms = NOW.unix_timestamp() * 1000;
    let id = |raw| {
        IdentityId::parse(raw, authority.resource())
            .expect("identity id")
            .uuid()
    };
    revocations.apply(
        Revocation::Revoked {
            id: id(REVOKED),
            before_ms: now_ms,
        },
        now_ms,
    );
    revocations.apply(Revocation::Deleted { id: id(DELETED) }, now_ms);
    Verifier {
        authority,
        revocations,
    }
});

/// `header.payload.signature`, signed with the key `kid` names, or the primary key.
fn signed(authority: &TokenAuthority, header: &[u8], payload: &[u8]) -> String {
    let ring = authority.ring().load();
    let kid = serde_json::from_slice::<serde_json::Value>(header)
        .ok()
        .and_then(|header| header["kid"].as_str().map(str::to_owned));
    let key = ring
        .signing_keys()
        .iter()
        .find(|key| Some(key.kid()) == kid.as_deref())
        .unwrap_or_else(|| ring.signer(KeySlot::Primary));
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key.encoding(), Algorithm::HS256)
            .expect("HS256 signs any message");
    format!("{message}.{signature}")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Verifier {
        authority,
        revocations,
    } = &*VERIFIER;
    let token = match mode % 3 {
        0 => match std::str::from_utf8(rest) {
            Ok(token) => token.to_owned(),
            Err(_) => return,
        },
        1 => {
            let header = format!(
                r#"{{"typ":"JWT","alg":"HS256","kid":"{}"}}"#,
                SIGNING_KIDS[0]
            );
            signed(authority, header.as_bytes(), rest)
        }
        _ => {
            let mut parts = rest.splitn(2, |&b| b == b'\n');
            let header = parts.next().unwrap_or_default();
            signed(authority, header, parts.next().unwrap_or_default())
        }
    };
    let Ok(verified) = authority.verify(&token, revocations, NOW) else {
        return;
    };
    assert!(verified.claims.exp > NOW.unix_timestamp(), "expired");
    assert!(
        SIGNING_KIDS[..3].contains(&verified.kid.as_str()),
        "signed by {}",
        verified.kid
    );
    assert_eq!(
        verified.identity.to_raw(authority.resource()),
        verified.claims.sub
    );
    assert_ne!(verified.claims.sub, DELETED);
    if verified.claims.sub == REVOKED {
        assert!(
            verified.claims.iat_ms > NOW.unix_timestamp() * 1000,
            "revoked"
        );
    }
});
