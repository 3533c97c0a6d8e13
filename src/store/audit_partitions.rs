//! PostgreSQL keeps the audit trail in one partition per UTC day of `at_ms` (migration 0015).
//! Each day's partition is created a week ahead; retention detaches and drops whole days, so
//! purging costs no `DELETE` and leaves no bloat, and rows are kept at most a day past
//! retention. The rows written before partitioning are the partition
//! `audit_events_before_partitions`, trimmed by `DELETE` until its whole range is past
//! retention and it is dropped like a day.
//!
//! Instances share the work through an advisory lock: one at a time, the others skip it.

use sqlx::Row;
use sqlx::postgres::PgConnection;
use time::OffsetDateTime;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;

const DAY_MS: i64 = 86_400_000;
/// Days created ahead of today: start-up, the upkeep and every instance may each fail a few
/// times before the trail runs out of room.
const AHEAD_DAYS: i64 = 7;
const BEFORE_PARTITIONS: &str = "audit_events_before_partitions";
/// The advisory lock the instances take turns with ("audit" in ASCII).
const LOCK_KEY: i64 = 0x0061_7564_6974;

const PARTITIONS: &str = "SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, \
     i.inhdetachpending AS detaching, c.reltuples::bigint AS rows \
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
     WHERE i.inhparent = 'audit_events'::regclass";
const TRIM_BEFORE_PARTITIONS: &str = "DELETE FROM audit_events_before_partitions WHERE at_ms < $1";

/// A partition of the trail: its name, where its range ends (exclusive), whether a detach of it
/// was interrupted, and about how many rows it holds.
struct Partition {
    name: String,
    end_ms: Option<i64>,
    detaching: bool,
    rows: i64,
}

/// The partition name of the UTC day that starts at `day_ms`.
fn day_name(day_ms: i64) -> Option<String> {
    let day = OffsetDateTime::from_unix_timestamp(day_ms.div_euclid(1000)).ok()?;
    Some(format!(
        "audit_events_{:04}_{:02}_{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    ))
}

/// The end of a range bound as PostgreSQL writes it: `FOR VALUES FROM (…) TO ('123')`.
fn bound_end(bound: &str) -> Option<i64> {
    let to = bound.rsplit_once("TO (")?.1;
    to.trim_end_matches(')').trim_matches('\'').parse().ok()
}

async fn partitions(conn: &mut PgConnection) -> Result<Vec<Partition>, StoreError> {
    sqlx::query(PARTITIONS)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let bound: Option<String> = row.try_get("bound")?;
            Ok(Partition {
                name: row.try_get("name")?,
                end_ms: bound.as_deref().and_then(bound_end),
                detaching: row.try_get("detaching")?,
                rows: row.try_get::<i64, _>("rows")?.max(0),
            })
        })
        .collect()
}

/// Runs `work` on one connection holding the trail's advisory lock; `None` when another
/// instance holds it.
async fn exclusively<T>(
    store: &PgStore,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    // Off the pool: a session lock must end with its connection, even if this is cancelled.
    let mut conn = store.writer().acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        return Ok(None);
    }
    let result = work(&mut conn).await;
    // Closing the connection ends the session, and the lock with it.
    let _ = sqlx::Connection::close(conn).await;
    result.map(Some)
}

/// Creates the partitions of today and the week ahead that do not exist yet.
pub(super) async fn prepare(store: &PgStore, now_ms: i64) -> Result<(), StoreError> {
    exclusively(store, async |conn| {
        let existing = partitions(conn).await?;
        // Days before the end of the rows written before partitioning are theirs.
        let covered_until = existing
            .iter()
            .find(|partition| partition.name == BEFORE_PARTITIONS)
            .and_then(|partition| partition.end_ms)
            .unwrap_or(i64::MIN);
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        for day in (0..=AHEAD_DAYS).map(|ahead| today + ahead * DAY_MS) {
            let Some(name) = day_name(day) else { continue };
            if day < covered_until || existing.iter().any(|p| p.name == name) {
                continue;
            }
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF audit_events \
                 FOR VALUES FROM ({day}) TO ({})",
                day + DAY_MS
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Drops the days wholly before `before_ms` and trims the rows from before partitioning;
/// about how many rows went.
pub(super) async fn purge(store: &PgStore, before_ms: i64) -> Result<u64, StoreError> {
    let purged = exclusively(store, async |conn| {
        let mut purged = 0;
        for partition in partitions(conn).await? {
            match partition.end_ms {
                Some(end_ms) if end_ms <= before_ms => {
                    drop_partition(conn, &partition).await?;
                    purged += partition.rows;
                }
                _ if partition.name == BEFORE_PARTITIONS => {
                    let trimmed = sqlx::query(TRIM_BEFORE_PARTITIONS)
                        .bind(before_ms)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                    purged += i64::try_from(trimmed).unwrap_or(i64::MAX);
                }
                _ => {}
            }
        }
        Ok(purged)
    })
    .await?;
    Ok(purged.map_or(0, |rows| u64::try_from(rows).unwrap_or(0)))
}

/// Detaches a partition without blocking the trail's writers (finishing a detach that was
/// interrupted), then drops it.
async fn drop_partition(conn: &mut PgConnection, partition: &Partition) -> Result<(), StoreError> {
    let name = &partition.name;
    let detach = if partition.detaching {
        format!("ALTER TABLE audit_events DETACH PARTITION {name} FINALIZE")
    } else {
        format!("ALTER TABLE audit_events DETACH PARTITION {name} CONCURRENTLY")
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(detach))
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
        .execute(&mut *conn)
        .await?;
    tracing::info!(partition = %name, rows = partition.rows, "dropped an audit partition past retention");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_by_their_utc_date() {
        assert_eq!(day_name(0).as_deref(), Some("audit_events_1970_01_01"));
        assert_eq!(
            day_name(1_796_601_600_000).as_deref(),
            Some("audit_events_2026_12_07")
        );
    }

    #[test]
    fn range_ends_are_read_from_postgres_bounds() {
        let day = "FOR VALUES FROM ('1796601600000') TO ('1796688000000')";
        assert_eq!(bound_end(day), Some(1_796_688_000_000));
        let before = "FOR VALUES FROM (MINVALUE) TO ('1796601600000')";
        assert_eq!(bound_end(before), Some(1_796_601_600_000));
        assert_eq!(bound_end("DEFAULT"), None);
    }
}
