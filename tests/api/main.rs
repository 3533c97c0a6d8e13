//! API tests: the real server over HTTPS, each test against a fresh SQLite database and a fresh
//! PostgreSQL database. One binary, so it links once.

mod helpers;

mod auth;
mod cluster;
mod faults;
mod hostile_input;
mod identities;
mod introspection;
mod keys;
mod ops;
mod sdk_js;
mod sdk_python;
mod tokens;
