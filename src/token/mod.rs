//! Communication access tokens: HS256 JWTs minted for an identity with a set of scopes, and
//! verified (for introspection) against the key ring and the revocation cache.

mod authority;
mod claims;
pub mod lifetime;
pub mod scope;

pub use authority::{Inactive, IssuedToken, TokenAuthority, VerifiedToken};
pub use claims::Claims;
pub use lifetime::{Lifetime, LifetimeError};
pub use scope::{Scope, ScopeError, ScopeSet};

/// What a client asks for when it asks for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub scopes: ScopeSet,
    pub lifetime: Lifetime,
}
