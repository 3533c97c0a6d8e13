//! Logging, traces and metrics: one place that sets up `tracing` (text for people, JSON for log
//! pipelines; `RUST_LOG` filters, default `info`), OpenTelemetry export ([`traces`]) and the
//! Prometheus recorder ([`metrics`]).

use std::io::IsTerminal;

use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Sets up logging and, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set,
/// OTLP/HTTP-protobuf trace export (the exporter reads the other `OTEL_EXPORTER_OTLP_*` variables,
/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` itself).
pub fn init(format: LogFormat) -> Telemetry {
    // reqwest is built without a TLS provider: the exporter's client needs this one first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Each layer filters for itself: the database spans need sqlx's statement events, which
    // the logs leave out.
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (provider, refused) = match otlp_provider() {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("callsign"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            // The request's span is built when routing has named it (`name_request`), not when
            // it is first entered; nothing here reads the OpenTelemetry context as "current".
            .with_context_activation(false)
            .with_filter(filter())
    });
    let database_spans = provider.as_ref().map(|provider| {
        db_spans::DatabaseSpans {
            tracer: provider.tracer("callsign"),
        }
        .with_filter(Targets::new().with_target(db_spans::SQLX_QUERY, Level::DEBUG))
    });
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stdout().is_terminal())
                    .with_filter(filter()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_filter(filter()),
            ),
        ),
    };
    // A second init (tests start several servers in one process) is harmless.
    let _ = tracing_subscriber::registry()
        .with(text)
        .with(json)
        .with(otel)
        .with(database_spans)
        .try_init();
    if let Some(error) = refused {
        tracing::warn!(%error, "OpenTelemetry export disabled");
    }
    Telemetry::new(provider)
}

mod db_spans;
pub mod metrics;
mod traces;

pub use db_spans::set_database_system;

use traces::otlp_provider;
pub use traces::{Telemetry, continue_trace, name_request};

/// The version and git commit this binary was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("CALLSIGN_GIT_COMMIT");
