//! Authentication: ACS-style HMAC-SHA256 signed requests made with an access key ([`hmac`], a
//! pure check with its time as a parameter, plugged in by `http::access_key`), and bearer
//! tokens from an OpenID Connect provider verified against its JWKS ([`oidc`]).

pub mod hmac;
pub mod oidc;
