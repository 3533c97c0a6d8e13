//! A client span for every database statement, a child of the span it ran in, named and
//! attributed as OpenTelemetry's database conventions say (`INSERT identities`,
//! `db.system.name`, `db.operation.name`, `db.collection.name`). sqlx reports each statement it
//! ran, with its duration, as a `sqlx::query` event; this layer, installed only when traces are
//! exported, turns those events into spans. Statements outside any span (the background
//! resynchronisation) make none: they would be root traces every few seconds.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry_sdk::trace::SdkTracer;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::{Context, Layer};

/// The database in use, as the conventions name it (`postgresql`, `sqlite`); set when the store
/// opens.
static SYSTEM: OnceLock<&'static str> = OnceLock::new();

pub fn set_database_system(system: &'static str) {
    let _ = SYSTEM.set(system);
}

/// The target sqlx reports statements under.
pub(super) const SQLX_QUERY: &str = "sqlx::query";

pub(super) struct DatabaseSpans {
    pub tracer: SdkTracer,
}

impl<S: Subscriber> Layer<S> for DatabaseSpans {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != SQLX_QUERY {
            return;
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let Some(sql) = statement.sql else { return };
        let parent = tracing::Span::current().context();
        if !parent.span().span_context().is_valid() {
            return;
        }
        let (operation, collection) = summary(&sql);
        let name = match &collection {
            Some(collection) => format!("{operation} {collection}"),
            None => operation.clone(),
        };
        let mut attributes = vec![
            KeyValue::new(
                "db.system.name",
                SYSTEM.get().copied().unwrap_or("other_sql"),
            ),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.summary", name.clone()),
        ];
        if let Some(collection) = collection {
            attributes.push(KeyValue::new("db.collection.name", collection));
        }
        if let Some(rows) = statement.rows {
            attributes.push(KeyValue::new("db.response.returned_rows", rows as i64));
        }
        // Span times are the wall clock's, as every other span's the exporter sends.
        #[allow(clippy::disallowed_methods)]
        let end = SystemTime::now();
        let start = end
            .checked_sub(statement.elapsed.unwrap_or_default())
            .unwrap_or(end);
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        span.end_with_timestamp(end);
    }
}

/// What sqlx reports of a statement: its text (parameterised: no values), duration and rows.
#[derive(Default)]
struct Statement {
    sql: Option<String>,
    elapsed: Option<Duration>,
    rows: Option<u64>,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        // sqlx leaves `db.statement` empty when the summary is the whole statement (`BEGIN`).
        let statement = field.name() == "db.statement" && !value.trim().is_empty();
        if statement || (field.name() == "summary" && self.sql.is_none()) {
            self.sql = Some(value.to_owned());
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = Duration::try_from_secs_f64(value).ok();
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The operation (`SELECT`, `INSERT`, …) and the first table a statement names.
fn summary(sql: &str) -> (String, Option<String>) {
    let mut words = sql.split_whitespace();
    let operation = words.next().unwrap_or("SQL").to_ascii_uppercase();
    let mut previous = operation.clone();
    for word in words {
        let keyword = previous.to_ascii_uppercase();
        if matches!(keyword.as_str(), "FROM" | "INTO" | "UPDATE" | "TABLE") {
            let table: String = word
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !table.is_empty() {
                return (operation, Some(table));
            }
        }
        previous = word.to_owned();
    }
    (operation, None)
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn statements_are_summarised_by_operation_and_table() {
        assert_eq!(
            summary("INSERT INTO identities (id) VALUES ($1)"),
            ("INSERT".into(), Some("identities".into()))
        );
        assert_eq!(
            summary("select id from app_users where username = $1"),
            ("SELECT".into(), Some("app_users".into()))
        );
        assert_eq!(
            summary("UPDATE identities SET x = 1"),
            ("UPDATE".into(), Some("identities".into()))
        );
        assert_eq!(summary("BEGIN"), ("BEGIN".into(), None));
    }
}
