//! Callsign: a self-hosted, ACS-compatible identity and access-token service.
//!
//! Layout, top to bottom (each module uses only those below it):
//! - [`cli`], [`startup`]: commands; building and running the application.
//! - [`services`]: the composition root, every use case wired once.
//! - [`http`]: routes, thin handlers, middleware, the one error type.
//! - [`propagation`]: keeps every instance's caches current, and [`readiness`] with them;
//!   [`dispatcher`]: delivers what the store's outbox holds, after commit.
//! - [`users`]: app users: accounts, sessions, guests, identity mapping, erasure.
//! - [`identity`]: the identity use cases (create, issue, revoke, delete); [`audit`]: the
//!   audit trail.
//! - [`token`]: minting and verifying JWTs; [`keys`]: access and signing keys.
//! - [`auth`]: pure request-signature checks.
//! - [`store`]: one trait per aggregate, on PostgreSQL and SQLite.
//! - [`vocabulary`] (ids, key slots, audit actions, revocations, changes), [`revocation`] (the
//!   cache), [`clock`]: the ground floor; [`jwt_crypto`]: the JWT signature algorithms.
//!
//! `fuzzing` (feature `fuzzing`, hidden) wires the application for the fuzz targets in `fuzz/`.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
mod clock_skew;
pub mod config;
mod dispatcher;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod jwt_crypto;
pub mod keys;
mod private_files;
mod propagation;
mod rate_limit;
mod readiness;
pub mod revocation;
pub mod services;
pub mod signals;
pub mod startup;
pub mod store;
mod telemetry;
#[cfg(test)]
mod testing;
mod text;
mod tls;
pub mod token;
pub mod users;
pub mod vocabulary;
