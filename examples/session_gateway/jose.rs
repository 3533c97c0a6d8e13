//! Compact JWS checked against a JWK Set, by hand with ring, as any JOSE library would: the key
//! the `kid` names, the algorithm that key states (RS256 or ES256).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::Value;

/// A compact JWS taken apart: header, claims, what was signed, the signature.
pub struct Jws<'a> {
    pub header: Value,
    pub claims: Value,
    signed: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Option<Jws<'a>> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, claims) = signed.split_once('.')?;
        Some(Jws {
            header: decode_part(header)?,
            claims: decode_part(claims)?,
            signed,
            signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    /// Whether `jwk` signed it, by the algorithm the key states.
    pub fn verifies_with(&self, jwk: &Value) -> bool {
        let alg = self.header["alg"].as_str().unwrap_or_default();
        signature_verifies(jwk, alg, self.signed.as_bytes(), &self.signature)
    }
}

pub fn find_key(jwks: &Value, kid: &str) -> Option<Value> {
    let keys = jwks["keys"].as_array()?;
    keys.iter().find(|key| key["kid"] == kid).cloned()
}

fn decode_part(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Whether `signature` is `jwk`'s over `message` by `alg`: RS256 or ES256, as the key allows.
fn signature_verifies(jwk: &Value, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok();
    if jwk.get("alg").is_some_and(|allowed| allowed != alg) {
        return false;
    }
    match (alg, jwk["kty"].as_str()) {
        ("RS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return false;
            };
            let key = RsaPublicKeyComponents { n, e };
            key.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok()
        }
        ("ES256", Some("EC")) if jwk["crv"] == "P-256" => {
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return false;
            };
            // The uncompressed point: 0x04, x, y.
            let point = [vec![0x04], x, y].concat();
            let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
            key.verify(message, signature).is_ok()
        }
        _ => false,
    }
}
