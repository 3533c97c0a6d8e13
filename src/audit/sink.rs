//! Where the writer puts the trail: the database (the default: listed through the API, purged
//! past retention, its client addresses scrubbed on erasure), or a file of JSON lines for a
//! deployment that keeps its audit elsewhere (a log shipper or collector takes it from there).
//!
//! A file gets each batch as one append, made durable (`fsync`) before the batch counts as
//! written, exactly where the database would have committed it: the queue in front is the same,
//! so a token the file cannot take is not issued either. A batch whose append failed is cut off
//! and appended again; one whose sync failed after its lines were written may appear twice. The
//! file is opened for each batch, so rotating it by renaming (logrotate's default) needs no
//! signal; it is created owner-only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::clock::from_millis;
use crate::store::{AuditRecord, AuditStore};
use crate::vocabulary::ResourceId;

/// The trail's destination.
pub enum AuditSink {
    Store(Arc<dyn AuditStore>),
    File(JsonLinesFile),
}

impl AuditSink {
    /// Appends `records` in order, all or none, durably.
    pub async fn append(&self, records: &[AuditRecord]) -> anyhow::Result<()> {
        match self {
            AuditSink::Store(store) => Ok(store.append_audit(records).await?),
            AuditSink::File(file) => file.append(records).await,
        }
    }

    /// Whether the trail is in the database (and can be listed there).
    pub fn is_store(&self) -> bool {
        matches!(self, AuditSink::Store(_))
    }
}

/// A file of JSON lines, one event a line.
pub struct JsonLinesFile {
    path: PathBuf,
    resource: ResourceId,
}

/// One line: the fields the API lists an event with, the identity as its raw id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    at: String,
    action: &'static str,
    actor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_request_id: Option<&'a str>,
}

impl JsonLinesFile {
    /// The file at `path`, opened (created if missing) once now, so a path Callsign cannot
    /// write to refuses start-up instead of the first token.
    pub fn open(path: PathBuf, resource: ResourceId) -> std::io::Result<Self> {
        open_for_append(&path)?;
        Ok(JsonLinesFile { path, resource })
    }

    async fn append(&self, records: &[AuditRecord]) -> anyhow::Result<()> {
        let mut lines = Vec::with_capacity(records.len() * 256);
        for record in records {
            serde_json::to_writer(&mut lines, &self.line(record))?;
            lines.push(b'\n');
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append_durably(&path, &lines)).await??;
        Ok(())
    }

    fn line<'a>(&self, record: &'a AuditRecord) -> Line<'a> {
        Line {
            at: from_millis(record.at_ms)
                .and_then(|at| at.format(&Rfc3339).ok())
                .unwrap_or_default(),
            action: record.action.as_str(),
            actor: &record.actor,
            identity: record.identity.map(|id| id.to_raw(&self.resource)),
            app_user: record.app_user.map(|user| user.to_string()),
            // Details are a JSON object Callsign wrote; anything else is kept as a string.
            details: record.details.as_deref().map(|details| {
                serde_json::from_str(details)
                    .unwrap_or_else(|_| serde_json::Value::String(details.to_owned()))
            }),
            client_address: record.client_address.as_deref(),
            request_id: record.request_id.as_deref(),
            client_request_id: record.client_request_id.as_deref(),
        }
    }
}

/// Appends `lines` and syncs them; a failed append is cut off again, so the retry that follows
/// does not leave half a line before it. A file made now has its directory entry synced too
/// (the first batch after a rotation).
fn append_durably(path: &Path, lines: &[u8]) -> std::io::Result<()> {
    let created = !path.exists();
    let mut file = open_for_append(path)?;
    let length = file.metadata()?.len();
    if let Err(error) = file.write_all(lines).and_then(|()| file.sync_data()) {
        let _ = file.set_len(length);
        return Err(error);
    }
    if created && let Some(directory) = path.parent() {
        std::fs::File::open(directory)?.sync_all()?;
    }
    Ok(())
}

fn open_for_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
