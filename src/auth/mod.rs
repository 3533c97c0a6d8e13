//! Authentication: ACS-style HMAC-SHA256 signed requests made with an access key ([`hmac`], a
//! pure check with its time as a parameter), bearer tokens from an OpenID Connect provider
//! verified against its JWKS ([`oidc`]), which backends such tokens admit ([`backend`]), and
//! which organisation users' tokens may be exchanged for communication tokens ([`org_users`]).
//! `http::backend_auth` and `http::bearer` plug them into the router.

pub mod backend;
pub mod hmac;
pub mod oidc;
pub mod org_users;
