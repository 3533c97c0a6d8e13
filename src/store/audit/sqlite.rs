//! SQLite's audit trail: batches appended as multi-row inserts, an identity index filled in
//! bulk, and retention trimmed in small chunks.
//!
//! The per-identity index lives apart from the rows (`audit_identity_events`) and is filled in
//! rounds: once [`INDEX_LAG`] rows have gathered past its mark, a round copies their entries into
//! a sorted copy on the writer, some thousands of rows in each append's transaction
//! ([`COPY_ROWS`]), then indexes them in identity order, some thousands of entries an append
//! ([`INDEX_STEP`]), until it is through, and only then moves the mark. An `(identity_id, id)`
//! index on the rows themselves would take a new entry in the last leaf of every identity a batch names, and every page a commit touches goes whole to
//! the write-ahead log: a batch of 2 000 tokens spread over 256 identities wrote 774 pages where
//! one identity's wrote 139. In rounds, each identity's leaf is written about once per round
//! instead of once per batch, and since a round goes through the identities in order, each step
//! touches only its own part of the index, so no write waits long behind one. The rows past the
//! mark, never many more than [`INDEX_LAG`] plus a round, are found by scanning them.

use std::sync::OnceLock;

use sqlx::{Connection, Row, Sqlite, Transaction};

use super::{AuditFilter, AuditRecord, INSERT_PREFIX};
use crate::store::StoreError;
use crate::store::backend::SqlBackend;
use crate::store::sqlite::SqliteStore;

/// The most rows in one SQLite statement.
const SQLITE_CHUNK: usize = 1024;

/// How many rows may gather past the identity index's mark before a round indexes them: the
/// larger, the more entries each identity's leaf takes at once.
const INDEX_LAG: i64 = 32_768;
/// The index entries one append adds while a round is under way, or twice the append's own
/// rows if more, so that indexing outpaces any rate of appends: a few milliseconds of the
/// writer's time even with the entries spread over thousands of identities' leaves, so a
/// create or a revocation queued behind it waits little.
const INDEX_STEP: i64 = 2_048;
/// The rows of a round one append copies into the sorted copy, for [`INDEX_STEP`] entries (in
/// proportion for a larger step): about as long a hold of the writer as a step, where copying a
/// whole round at once would hold it for 15 to 20 ms. The append that completes the copy also
/// takes the round's first step.
const COPY_ROWS: i64 = 4 * INDEX_STEP;
/// The most rows one round covers, however far behind the index has fallen (a backlog is
/// indexed in several rounds).
const ROUND_ROWS: i64 = 65_536;

/// Where indexing stands: the rows up to `up_to` are indexed. While `round_to` is past it, a
/// round is indexing the rows up to `round_to` in identity order, from the entry
/// (`next_identity`, `next_event`) on.
const MARK: &str = "SELECT up_to, round_to, next_identity, next_event, \
     (SELECT coalesce(max(id), 0) FROM audit_events) AS last FROM audit_identity_mark";
/// The writer's sorted copy of a round's entries, made once a round, and how far it has been
/// made (`copied_to`, a row id): temporary tables, gone with their connection, and then made
/// again from what the mark says is left.
const COPY_TABLES: [&str; 2] = [
    "CREATE TEMP TABLE IF NOT EXISTS audit_round ( \
     round_to INTEGER NOT NULL, identity_id TEXT NOT NULL, event_id INTEGER NOT NULL, \
     PRIMARY KEY (round_to, identity_id, event_id)) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS audit_round_copied ( \
     round_to INTEGER PRIMARY KEY, copied_to INTEGER NOT NULL)",
];
const COPIED_TO: &str = "SELECT copied_to FROM temp.audit_round_copied WHERE round_to = $1";
const UNCOPY: [&str; 2] = [
    "DELETE FROM temp.audit_round",
    "DELETE FROM temp.audit_round_copied",
];
const COPY_STARTS: &str =
    "INSERT INTO temp.audit_round_copied (round_to, copied_to) VALUES ($1, $2)";
/// The entries of the rows after `$1` up to `$2`, past the round's next entry (`$4`, `$5`).
const COPY: &str = "INSERT INTO temp.audit_round (round_to, identity_id, event_id) \
     SELECT $3, identity_id, id FROM audit_events \
     WHERE id > $1 AND id <= $2 AND identity_id IS NOT NULL AND (identity_id, id) >= ($4, $5)";
const COPY_GOES_ON: &str = "UPDATE temp.audit_round_copied SET copied_to = $2 WHERE round_to = $1";
/// The first entry past this step, if the round goes on after it.
const STEP_END: &str = "SELECT identity_id, event_id FROM temp.audit_round \
     WHERE round_to = $1 AND (identity_id, event_id) >= ($2, $3) \
     ORDER BY identity_id, event_id LIMIT 1 OFFSET $4";
/// The entries of rows still there: retention may have purged some since the copy was made.
const INDEX_STEP_ROWS: &str = "INSERT INTO audit_identity_events (identity_id, event_id) \
     SELECT r.identity_id, r.event_id FROM temp.audit_round r \
     WHERE r.round_to = $1 AND (r.identity_id, r.event_id) >= ($2, $3) \
       AND ($4 IS NULL OR (r.identity_id, r.event_id) < ($4, $5)) \
       AND EXISTS (SELECT 1 FROM audit_events e WHERE e.id = r.event_id) \
     ORDER BY r.identity_id, r.event_id";
const ROUND_GOES_ON: &str = "UPDATE audit_identity_mark \
     SET round_to = $1, next_identity = $2, next_event = $3";
const ROUND_DONE: &str = "UPDATE audit_identity_mark \
     SET up_to = $1, round_to = $1, next_identity = '', next_event = 0";

/// One identity's rows, newest first, with the same filters and parameters as the listing of
/// all rows: those past the mark by a scan, the others through the identity index.
pub(in crate::store) const SELECT_IDENTITY_EVENTS: &str = concat!(
    "SELECT * FROM (SELECT ",
    select_columns!(),
    " FROM audit_events \
       WHERE id > (SELECT up_to FROM audit_identity_mark) AND identity_id = $1 \
         AND id < coalesce($6, 9223372036854775807) AND ",
    listing_filters!(),
    " ORDER BY id DESC LIMIT $7) \
     UNION ALL \
     SELECT * FROM (SELECT ",
    select_columns!(),
    // Joined `USING (identity_id)`, so every column named is the row's own.
    " FROM audit_identity_events JOIN audit_events USING (identity_id) \
       WHERE event_id = id AND identity_id = $1 \
         AND event_id < coalesce($6, 9223372036854775807) \
         AND event_id <= (SELECT up_to FROM audit_identity_mark) AND ",
    listing_filters!(),
    " ORDER BY event_id DESC LIMIT $7) \
     ORDER BY id DESC LIMIT $7"
);

/// The listing statement for `filter`.
pub(in crate::store) fn select_events(filter: &AuditFilter) -> &'static str {
    match filter.identity {
        Some(_) => SELECT_IDENTITY_EVENTS,
        None => super::SELECT_EVENTS,
    }
}

/// Multi-row `VALUES` statements in one transaction, each of a power-of-two number of rows, so
/// the statement cache holds at most eleven shapes of them (a cached statement for every batch
/// size ever seen would keep tens of megabytes of prepared statements); then a step of indexing
/// by identity, if one is due.
pub(super) async fn append(store: &SqliteStore, records: &[AuditRecord]) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    let mut rest = records;
    while !rest.is_empty() {
        let size = SQLITE_CHUNK.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(size);
        let mut insert = sqlx::query(insert_statement(size));
        for record in chunk {
            insert = insert
                .bind(record.at_ms)
                .bind(record.action.as_str())
                .bind(record.actor.as_ref())
                .bind(record.identity.map(SqliteStore::uuid_param))
                .bind(record.app_user.map(SqliteStore::uuid_param))
                .bind(record.details.as_deref())
                .bind(record.client_address.as_deref())
                .bind(record.request_id.as_deref())
                .bind(record.client_request_id.as_deref());
        }
        insert.execute(&mut *tx).await?;
        rest = after;
    }
    // Under a savepoint: should indexing fail, the rows are still written (and listed, by the
    // scan past the mark), and the next append tries the step again.
    let mut step = Connection::begin(&mut *tx).await?;
    let entries = INDEX_STEP.max(2 * records.len() as i64);
    match index_identities(&mut step, INDEX_LAG, entries).await {
        Ok(()) => step.commit().await?,
        Err(error) => {
            tracing::warn!(%error, "indexing the audit trail by identity failed; will retry");
            step.rollback().await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// One step of indexing, if a round is under way or the rows past the mark have reached `lag`:
/// the next `4 × step` rows of the round into its sorted copy while it is being made, then the
/// round's next `step` entries in identity order; the mark moves with the last step.
async fn index_identities(
    tx: &mut Transaction<'_, Sqlite>,
    lag: i64,
    step: i64,
) -> Result<(), StoreError> {
    let mark = sqlx::query(MARK).fetch_one(&mut **tx).await?;
    let up_to: i64 = mark.try_get("up_to")?;
    let round_to: i64 = mark.try_get("round_to")?;
    let last: i64 = mark.try_get("last")?;
    let round_to = match round_to > up_to {
        true => round_to,
        false if last - up_to >= lag => {
            // The round starts: its end is kept, for the appends that copy and index it.
            let round_to = last.min(up_to + ROUND_ROWS);
            sqlx::query(ROUND_GOES_ON)
                .bind(round_to)
                .bind("")
                .bind(0)
                .execute(&mut **tx)
                .await?;
            round_to
        }
        false => return Ok(()),
    };
    let next: (String, i64) = (mark.try_get("next_identity")?, mark.try_get("next_event")?);
    if !copied(tx, (up_to, round_to), &next, step * COPY_ROWS / INDEX_STEP).await? {
        return Ok(());
    }
    let end: Option<(String, i64)> = sqlx::query_as(STEP_END)
        .bind(round_to)
        .bind(&next.0)
        .bind(next.1)
        .bind(step)
        .fetch_optional(&mut **tx)
        .await?;
    let (end_identity, end_event) = end.clone().unzip();
    sqlx::query(INDEX_STEP_ROWS)
        .bind(round_to)
        .bind(&next.0)
        .bind(next.1)
        .bind(end_identity)
        .bind(end_event)
        .execute(&mut **tx)
        .await?;
    match end {
        Some((identity, event)) => {
            sqlx::query(ROUND_GOES_ON)
                .bind(round_to)
                .bind(identity)
                .bind(event)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            uncopy(tx).await?;
            sqlx::query(ROUND_DONE)
                .bind(round_to)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Makes the next `rows` rows of the round (`up_to`, `round_to`] into its sorted copy, from the
/// round's next entry `next` on; whether the copy is whole.
async fn copied(
    tx: &mut Transaction<'_, Sqlite>,
    (up_to, round_to): (i64, i64),
    next: &(String, i64),
    rows: i64,
) -> Result<bool, StoreError> {
    for statement in COPY_TABLES {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    let copied_to: Option<i64> = sqlx::query_scalar(COPIED_TO)
        .bind(round_to)
        .fetch_optional(&mut **tx)
        .await?;
    let from = match copied_to {
        Some(copied_to) if copied_to >= round_to => return Ok(true),
        Some(copied_to) => copied_to,
        // A new round, or a copy lost with the connection that made it.
        None => {
            uncopy(tx).await?;
            sqlx::query(COPY_STARTS)
                .bind(round_to)
                .bind(up_to)
                .execute(&mut **tx)
                .await?;
            up_to
        }
    };
    let to = round_to.min(from + rows);
    sqlx::query(COPY)
        .bind(from)
        .bind(to)
        .bind(round_to)
        .bind(&next.0)
        .bind(next.1)
        .execute(&mut **tx)
        .await?;
    sqlx::query(COPY_GOES_ON)
        .bind(round_to)
        .bind(to)
        .execute(&mut **tx)
        .await?;
    Ok(to >= round_to)
}

/// Empties the round's sorted copy and what says how far it was made.
async fn uncopy(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    for statement in UNCOPY {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The insert of `rows` rows (a power of two up to [`SQLITE_CHUNK`]), written once.
fn insert_statement(rows: usize) -> &'static str {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        (0..=SQLITE_CHUNK.ilog2())
            .map(|power| {
                let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
                format!(
                    "{INSERT_PREFIX}SELECT at_ms, action, actor, identity_id, app_user_id, \
                     details, {}, request_id, client_request_id FROM ( \
                     SELECT column1 AS at_ms, column2 AS action, column3 AS actor, \
                       column4 AS identity_id, column5 AS app_user_id, column6 AS details, \
                       column7 AS client_address, column8 AS request_id, \
                       column9 AS client_request_id \
                     FROM (VALUES {}))",
                    client_address_unless_erased!(),
                    vec![row; 1 << power].join(", ")
                )
            })
            .collect()
    });
    &statements[rows.ilog2() as usize]
}

/// Trims in chunks, each its own write, and rests as long as each took before the next: the
/// single writer is never held for long, nor more than half the time, so the audit trail's own
/// writes (and the tokens waiting on them) go on while a large backlog is purged. A chunk's
/// rows leave the identity index with them.
const PURGE_CHUNK: &str = "DELETE FROM audit_events WHERE rowid IN \
     (SELECT rowid FROM audit_events WHERE at_ms < $1 LIMIT $2) \
     RETURNING id, identity_id";
const UNINDEX: &str = "DELETE FROM audit_identity_events \
     WHERE (identity_id, event_id) IN \
       (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1))";
const PURGE_CHUNK_ROWS: i64 = 1_000;

/// Deletes the rows stamped before `before_ms`, [`PURGE_CHUNK_ROWS`] at a time.
pub(super) async fn purge(store: &SqliteStore, before_ms: i64) -> Result<u64, StoreError> {
    let mut purged = 0;
    loop {
        // A pause, not a clock reading: the injected clock has no part in it.
        let started = tokio::time::Instant::now();
        let deleted = purge_chunk(store, before_ms).await?;
        purged += deleted;
        if deleted < PURGE_CHUNK_ROWS as u64 {
            return Ok(purged);
        }
        tokio::time::sleep(started.elapsed()).await;
    }
}

async fn purge_chunk(store: &SqliteStore, before_ms: i64) -> Result<u64, StoreError> {
    let mut tx = store.begin_write().await?;
    let rows = sqlx::query(PURGE_CHUNK)
        .bind(before_ms)
        .bind(PURGE_CHUNK_ROWS)
        .fetch_all(&mut *tx)
        .await?;
    let mut indexed = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(identity) = row.try_get::<Option<String>, _>("identity_id")? {
            indexed.push((identity, row.try_get::<i64, _>("id")?));
        }
    }
    if !indexed.is_empty() {
        let entries = serde_json::json!(indexed).to_string();
        sqlx::query(UNINDEX).bind(entries).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// Nothing to make ready: one table.
pub(super) async fn prepare(_store: &SqliteStore, _now_ms: i64) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests;
