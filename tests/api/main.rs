//! API tests: the real server over HTTPS, each test against a fresh SQLite database and a fresh
//! PostgreSQL database. One binary, so it links once.

// These tests drive a real server from outside and measure it with real time; the injected
// clock is for the service's own code.
#![allow(clippy::disallowed_methods)]
// A test's helpers fail the test the plain way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acs_client;
mod app_client;
mod app_users;
mod helpers;
mod test_logs;

mod app_user_audit;
mod audit;
mod audit_file;
mod audit_retention;
mod auth;
mod backend_bearer;
mod client_addresses;
mod clock_skew;
mod cluster;
mod config_check;
mod confusable_usernames;
mod crash;
mod db_crash;
mod deployment;
mod disconnects;
mod doc_samples;
mod erasure;
mod faults;
mod forged_tokens;
mod gateway;
mod guest_purge;
mod guests;
mod hostile_headers;
mod hostile_idp;
mod hostile_input;
mod hostile_json;
mod http2_floods;
mod identities;
mod idp;
mod introspection;
mod keys;
mod migrations;
mod my_sessions;
mod offline_tokens;
mod oidc;
mod openapi;
mod ops;
mod org_users;
mod outbox;
mod password_policy;
mod password_storm;
mod passwords;
mod postgres_tls;
mod private_pg;
mod process;
mod rate_limits;
mod refresh_shutdown;
mod refused_input;
mod revoke_races;
mod schemathesis;
mod sdk_js;
mod sdk_python;
mod secrets;
mod session_reuse;
mod sessions;
mod shutdown;
mod signal_events;
mod signal_figures;
mod signals;
mod slow_clients;
mod slow_database;
mod sqlite_read_only;
mod ssf_receiver;
mod targeted_lockout;
mod tls;
mod tokens;
mod traces;
mod user_admin;
mod user_search;
mod users_cli;
