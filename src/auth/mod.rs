//! Authentication of backend services: ACS-style HMAC-SHA256 signed requests made with an
//! access key. Pure checks with their time as a parameter; `http::access_key` plugs them into
//! the router.

pub mod hmac;
