//! Callsign: a self-hosted, ACS-compatible identity and access-token service.
//!
//! Layout: [`http`] (routes, thin handlers) → [`identity`] (domain) → [`store`] (SQL);
//! [`auth`] checks access-key signatures; [`token`] mints and verifies JWTs with the
//! [`keys`] ring; [`revocation`] and [`propagation`] keep every instance's caches current.

pub mod auth;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod identity;
pub mod keys;
pub mod propagation;
pub mod revocation;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod token;
