//! OpenTelemetry traces: exported over OTLP/HTTP (protobuf) only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; a caller's W3C `traceparent`
//! is continued either way, so its trace id reaches the log lines of the request.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::VERSION;

/// Whether spans are exported (else only a caller's trace id is continued into the logs).
static EXPORTING: AtomicBool = AtomicBool::new(false);
/// Holds the OpenTelemetry tracer provider, if traces are exported, so shutdown can flush it.
#[must_use = "call shutdown() to flush buffered spans"]
pub struct Telemetry(Option<SdkTracerProvider>);

/// The exporting tracer provider, when export is configured; why it could not be built, as an
/// error to log once logging is set up.
pub(super) fn otlp_provider() -> Result<Option<SdkTracerProvider>, String> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|error| error.to_string())?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("callsign");
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new("service.version", VERSION))
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            // Its own thread and a blocking reqwest client: needs no Tokio runtime.
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

impl Telemetry {
    pub(super) fn new(provider: Option<SdkTracerProvider>) -> Self {
        EXPORTING.store(provider.is_some(), Ordering::Relaxed);
        Telemetry(provider)
    }

    /// Exports the spans still buffered (bounded by the exporter's timeout) and stops exporting.
    pub async fn shutdown(self) {
        let Some(provider) = self.0 else { return };
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "flushing traces failed"),
            Err(error) => tracing::warn!(%error, "flushing traces failed"),
        }
    }
}

/// Continues the caller's W3C trace (`traceparent`) in `span` and records its trace id there
/// (field `trace_id`, declared `Empty`), so every log line inside the request carries it. Without
/// an exporter the caller's trace id is still logged. The exported span is not built yet: its
/// name needs the route ([`name_request`]).
pub fn continue_trace<B>(span: &tracing::Span, request: &axum::http::Request<B>) {
    if !EXPORTING.load(Ordering::Relaxed) && !request.headers().contains_key("traceparent") {
        return;
    }
    let remote = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    let trace_id = remote.span().span_context().trace_id();
    let _ = span.set_parent(remote);
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Names the request's span `{method} {route}` and records `http.route`, once routing has
/// matched a route template (OpenTelemetry's HTTP server conventions). The exported span is
/// built with that name; one with no caller's trace then gets its own trace id, logged from here
/// on.
pub fn name_request(span: &tracing::Span, method: &'static str, route: &str) {
    // No layer records it (logging at `warn`, no exporter): nothing to format.
    if span.is_disabled() {
        return;
    }
    span.record("otel.name", format!("{method} {route}"));
    span.record("http.route", route);
    if EXPORTING.load(Ordering::Relaxed) {
        let trace_id = span.context().span().span_context().trace_id();
        if trace_id != TraceId::INVALID {
            span.record("trace_id", tracing::field::display(trace_id));
        }
    }
}
