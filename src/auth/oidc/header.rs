//! What a bearer token's JOSE header must say before anything else is looked at: no critical
//! extensions, and a type that is an access token's. Read from the raw header, since a parsed
//! one cannot tell an absent field from a `null`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::BearerError;
use crate::text::echo;

/// The `typ` values of an access token, without the optional `application/` prefix (RFC 7515
/// §4.1.9), compared case-insensitively: a plain JWT (what most providers send) or an RFC 9068
/// access token. A logout token (`logout+jwt`), a security event (`secevent+jwt`) or any other
/// explicitly typed JWT is something else and is refused.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["jwt", "at+jwt"];

/// Refuses a header with `crit` (RFC 7515 §4.1.11: a recipient must refuse extensions it does
/// not understand, and Callsign understands none) or with a `typ` that is not an access token's.
pub(super) fn check(token: &str) -> Result<(), BearerError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(BearerError::Malformed)?;
    if header.contains_key("crit") {
        return Err(BearerError::CriticalExtensions);
    }
    match header.get("typ") {
        None => Ok(()),
        Some(Value::String(typ)) if is_access_token_type(typ) => Ok(()),
        Some(Value::String(typ)) => Err(BearerError::NotAnAccessToken(echo(typ, 40))),
        Some(_) => Err(BearerError::Malformed),
    }
}

fn is_access_token_type(typ: &str) -> bool {
    let prefix = "application/";
    let bare = match typ.get(..prefix.len()) {
        Some(start) if start.eq_ignore_ascii_case(prefix) => &typ[prefix.len()..],
        _ => typ,
    };
    ACCESS_TOKEN_TYPES
        .iter()
        .any(|allowed| bare.eq_ignore_ascii_case(allowed))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(header: Value) -> String {
        format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    #[test]
    fn access_token_types_pass_in_any_case() {
        for typ in [
            "JWT",
            "jwt",
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/JWT",
        ] {
            assert_eq!(
                check(&token(json!({ "alg": "ES256", "typ": typ }))),
                Ok(()),
                "{typ}"
            );
        }
        assert_eq!(check(&token(json!({ "alg": "ES256" }))), Ok(()), "absent");
    }

    #[test]
    fn other_types_are_refused() {
        for typ in [
            "logout+jwt",
            "secevent+jwt",
            "application/secevent+jwt",
            "id_token+jwt",
            "dpop+jwt",
            "JWS",
            "",
            "application/",
        ] {
            assert_eq!(
                check(&token(json!({ "alg": "ES256", "typ": typ }))),
                Err(BearerError::NotAnAccessToken(typ.into())),
                "{typ}"
            );
        }
        for typ in [json!(null), json!(["JWT"]), json!(1)] {
            assert_eq!(
                check(&token(json!({ "alg": "ES256", "typ": typ }))),
                Err(BearerError::Malformed),
                "{typ}"
            );
        }
    }

    #[test]
    fn any_critical_extension_is_refused() {
        for crit in [
            json!(["exp"]),
            json!(["b64"]),
            json!([]),
            json!(null),
            json!("x"),
        ] {
            assert_eq!(
                check(&token(
                    json!({ "alg": "ES256", "typ": "JWT", "crit": crit })
                )),
                Err(BearerError::CriticalExtensions),
                "{crit}"
            );
        }
    }

    #[test]
    fn an_unreadable_header_is_malformed() {
        for bad in ["", "!!!.e30.sig", "bm90IGpzb24.e30.sig", "WzFd.e30.sig"] {
            assert_eq!(check(bad), Err(BearerError::Malformed), "{bad}");
        }
    }
}
