//! What `callsign serve` tells the operator at start, on standard output: where it listens,
//! what it runs with, how to trust its generated certificate, and the connection string when
//! asked for. As text lines (`callsign: …`), or with `CALLSIGN_LOG_FORMAT=json` as one JSON
//! object a line, like every log line then.

use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, KeyAdmin, Metrics, Switch};
use crate::keys::KeySlot;
use crate::startup::Application;
use crate::telemetry::LogFormat;

/// Prints `message` (with `fields`, in JSON) as the configured log format wants.
fn say(config: &Config, level: &str, message: &str, fields: Value) {
    match config.log_format {
        LogFormat::Text => println!("callsign: {message}"),
        LogFormat::Json => {
            let timestamp = SystemClock
                .now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let mut line = json!({
                "timestamp": timestamp,
                "level": level,
                "target": "callsign",
                "message": message,
            });
            if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
                line.extend(fields);
            }
            println!("{line}");
        }
    }
}

fn on(switch: bool) -> &'static str {
    if switch { "on" } else { "off" }
}

/// The start lines.
pub fn started(config: &Config, app: &Application) {
    let endpoint = app.endpoint();
    say(
        config,
        "INFO",
        &format!("listening on {endpoint} (bound to {})", app.local_addr()),
        json!({ "endpoint": endpoint, "address": app.local_addr().to_string() }),
    );
    let postgres = config
        .database_url()
        .is_ok_and(|url| url.starts_with("postgres"));
    let store = if postgres { "PostgreSQL" } else { "SQLite" };
    let ops = app
        .ops_addr()
        .map_or_else(|| "none".to_owned(), |ops| format!("http://{ops}"));
    // In a fixed order, as a person reads it.
    let features = [
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("store", store.to_owned()),
        ("tokens", config.token_algorithm.as_str().to_owned()),
        (
            "security events",
            config.signals.ssf_algorithm.as_str().to_owned(),
        ),
        ("ops listener", ops),
        (
            "metrics",
            match config.metrics {
                Metrics::Ops => "ops listener",
                Metrics::Public => "public",
                Metrics::Off => "off",
            }
            .to_owned(),
        ),
        (
            "key administration",
            match config.key_admin {
                KeyAdmin::Cli => "cli",
                KeyAdmin::Api => "api",
            }
            .to_owned(),
        ),
        (
            "guests",
            on(config.app_users.guests == Switch::On).to_owned(),
        ),
        (
            "app identity provider",
            config
                .app_users
                .oidc_issuer
                .clone()
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "backend bearers",
            on(config.backends.backend_oidc_issuer.is_some()).to_owned(),
        ),
    ];
    let summary: Vec<String> = features
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    let fields: serde_json::Map<String, Value> = features
        .iter()
        .map(|(name, value)| (name.replace(' ', "_"), json!(value)))
        .collect();
    say(
        config,
        "INFO",
        &format!("running with {}", summary.join("; ")),
        Value::Object(fields),
    );
    if postgres && config.endpoint.is_none() {
        say(
            config,
            "WARN",
            &format!(
                "CALLSIGN_ENDPOINT is not set, so tokens name {endpoint} as their issuer: set it \
                 to the URL clients use, the same on every instance"
            ),
            json!({}),
        );
    }
}

/// The generated access keys: the connection string only to a person (a terminal) or when
/// asked for; logs collected from a container must never hold a key.
pub fn generated_keys(config: &Config, app: &Application, to_a_person: bool) {
    if to_a_person || config.print_connection_string {
        let connection_string = app.connection_string(KeySlot::Primary);
        say(
            config,
            "INFO",
            "access keys generated; this connection string is shown once (`callsign keys \
             --show-secrets list` shows it again):",
            json!({ "connection_string": connection_string }),
        );
        if config.log_format == LogFormat::Text {
            println!("{connection_string}");
        }
    } else {
        say(
            config,
            "INFO",
            "access keys generated; `callsign keys --show-secrets list` shows them (standard \
             output is not a terminal, so they are not printed here)",
            json!({}),
        );
    }
}

/// How to trust the generated certificate.
pub fn generated_certificate(config: &Config, cert: &std::path::Path) {
    say(
        config,
        "INFO",
        &format!(
            "serving a generated certificate; trust it with REQUESTS_CA_BUNDLE={0} (Python) or \
             NODE_EXTRA_CA_CERTS={0} (Node)",
            cert.display()
        ),
        json!({ "trust_file": cert.display().to_string() }),
    );
}
