//! Authentication of backend services: ACS-style HMAC-SHA256 signed requests made with an
//! access key ([`hmac`] verifies, [`middleware`] plugs it into the router).

pub mod hmac;
pub mod middleware;

pub use middleware::{Authenticated, require_access_key};
