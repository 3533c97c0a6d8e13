//! PostgreSQL keeps the audit trail in one partition per UTC day of `at_ms` (migration 0015).
//! Each day's partition is made a week ahead; retention detaches and drops whole days, so
//! purging costs no `DELETE` and leaves no bloat, and rows are kept at most a day past
//! retention. The rows written before partitioning are the partition
//! `audit_events_before_partitions`, trimmed in chunks until its whole range is past retention
//! and it is dropped like a day.
//!
//! Nothing here holds up the trail's writers: a day is made as a table of its own and attached
//! (which locks the trail less than creating it as a partition would), and detached
//! concurrently before it is dropped. Instances take turns through an advisory lock, and a step
//! that fails (a detach interrupted, a drop refused) is finished by a later pass.

use sqlx::Row;
use sqlx::postgres::PgConnection;
use time::OffsetDateTime;

use super::StoreError;
use super::backend::SqlBackend;
use super::postgres::PgStore;

const DAY_MS: i64 = 86_400_000;
/// Days made ahead of today: start-up, the upkeep and every instance may each fail a few times
/// before the trail runs out of room.
const AHEAD_DAYS: i64 = 7;
const BEFORE_PARTITIONS: &str = "audit_events_before_partitions";
/// The advisory lock the instances take turns with ("audit" in ASCII).
const LOCK_KEY: i64 = 0x0061_7564_6974;
/// Rows of the trail from before partitioning deleted by one statement.
const TRIM_CHUNK: i64 = 10_000;

/// The partitions, an interrupted detach first: no other can be detached until it is finished.
const PARTITIONS: &str = "SELECT c.relname::text AS name, \
     pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS detaching, \
     c.reltuples::bigint AS rows \
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
     WHERE i.inhparent = 'audit_events'::regclass \
     ORDER BY i.inhdetachpending DESC, c.relname";
/// Days detached but not dropped (a pass stopped between the two).
const DETACHED_DAYS: &str = "SELECT relname::text FROM pg_class \
     WHERE relkind = 'r' AND NOT relispartition \
       AND relnamespace = current_schema()::regnamespace \
       AND relname ~ '^audit_events_[0-9]{4}_[0-9]{2}_[0-9]{2}$'";
const TRIM_BEFORE_PARTITIONS: &str = "DELETE FROM audit_events_before_partitions \
     WHERE ctid = ANY(ARRAY(SELECT ctid FROM audit_events_before_partitions \
                            WHERE at_ms < $1 LIMIT $2))";

/// A partition of the trail: its name, where its range ends (exclusive), whether a detach of it
/// was interrupted, and about how many rows it holds.
struct Partition {
    name: String,
    end_ms: Option<i64>,
    detaching: bool,
    rows: i64,
}

/// The partition name of the UTC day that holds `at_ms`, and the day's start.
fn day_of(at_ms: i64) -> Option<(String, i64)> {
    let start_ms = at_ms.div_euclid(DAY_MS) * DAY_MS;
    let day = OffsetDateTime::from_unix_timestamp(start_ms / 1000).ok()?;
    let name = format!(
        "audit_events_{:04}_{:02}_{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    Some((name, start_ms))
}

/// The start of the day a partition name (`audit_events_YYYY_MM_DD`) stands for.
fn day_start(name: &str) -> Option<i64> {
    let date = name.strip_prefix("audit_events_")?;
    let mut parts = date.split('_').map(str::parse::<i32>);
    let (year, month, day) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// Whether `name` is one Callsign gives the trail's partitions: only those are acted on, and
/// they need no quoting.
fn ours(name: &str) -> bool {
    name == BEFORE_PARTITIONS
        || day_start(name).is_some_and(|start| day_of(start).is_some_and(|(n, _)| n == name))
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

async fn run(conn: &mut PgConnection, sql: String) -> Result<(), StoreError> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Runs `work` on a connection of its own holding the trail's advisory lock; `None` when
/// another instance holds it. Its statements may take as long as they need (a detach waits for
/// the transactions under way), but wait at most a few seconds for a lock.
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
    let result = if locked {
        match run(
            &mut conn,
            "SET statement_timeout = 0; SET lock_timeout = '5s'".into(),
        )
        .await
        {
            Ok(()) => work(&mut conn).await.map(Some),
            Err(error) => Err(error),
        }
    } else {
        Ok(None)
    };
    // Closing the connection ends the session, and the lock with it.
    let _ = sqlx::Connection::close(conn).await;
    result
}

/// Makes today's partition and the week's ahead that are missing.
pub(super) async fn prepare(store: &PgStore, now_ms: i64) -> Result<(), StoreError> {
    let days = (0..=AHEAD_DAYS).map(|ahead| now_ms + ahead * DAY_MS);
    make_days(store, days.collect()).await
}

/// Makes the partitions of the days holding `at_ms` that are missing (for rows an instance
/// stamped outside the days made ahead: its clock jumped).
pub(super) async fn make_days(store: &PgStore, at_ms: Vec<i64>) -> Result<(), StoreError> {
    exclusively(store, async |conn| {
        let existing = partitions(conn).await?;
        // Days before the end of the rows written before partitioning are theirs.
        let covered_until = existing
            .iter()
            .find(|partition| partition.name == BEFORE_PARTITIONS)
            .and_then(|partition| partition.end_ms)
            .unwrap_or(i64::MIN);
        // Each day once, however many rows of a batch fall on it.
        let days: std::collections::BTreeSet<(String, i64)> =
            at_ms.into_iter().filter_map(day_of).collect();
        for (name, start) in days {
            if start < covered_until || existing.iter().any(|p| p.name == name) {
                continue;
            }
            let end = start + DAY_MS;
            run(
                conn,
                format!(
                    "CREATE TABLE IF NOT EXISTS {name} (LIKE audit_events INCLUDING DEFAULTS, \
                     CONSTRAINT {name}_range CHECK (at_ms >= {start} AND at_ms < {end}))"
                ),
            )
            .await?;
            attach_day(conn, &name, start).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Attaches the table of the day starting at `start` as its partition.
async fn attach_day(conn: &mut PgConnection, name: &str, start: i64) -> Result<(), StoreError> {
    let end = start + DAY_MS;
    run(
        conn,
        format!(
            "ALTER TABLE audit_events ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})"
        ),
    )
    .await
}

/// Drops the days wholly before `before_ms` (and any left detached), and trims the rows from
/// before partitioning; about how many rows went. A day that cannot be dropped now is logged
/// and left to the next pass.
pub(super) async fn purge(store: &PgStore, before_ms: i64) -> Result<u64, StoreError> {
    let purged = exclusively(store, async |conn| {
        let mut purged = 0;
        for partition in partitions(conn).await? {
            if !ours(&partition.name) {
                continue;
            }
            let past = partition.end_ms.is_some_and(|end_ms| end_ms <= before_ms);
            let step = if past || partition.detaching {
                drop_partition(conn, &partition, past).await.map(|()| {
                    purged += if past { partition.rows } else { 0 };
                })
            } else if partition.name == BEFORE_PARTITIONS {
                trim(conn, before_ms).await.map(|rows| purged += rows)
            } else {
                Ok(())
            };
            if let Err(error) = step {
                tracing::warn!(
                    partition = %partition.name,
                    %error,
                    "an audit partition past retention is left for the next pass"
                );
            }
        }
        let detached: Vec<String> = sqlx::query_scalar(DETACHED_DAYS)
            .fetch_all(&mut *conn)
            .await?;
        for name in detached {
            if day_start(&name).is_some_and(|start| start + DAY_MS <= before_ms) && ours(&name) {
                run(conn, format!("DROP TABLE IF EXISTS {name}")).await?;
            }
        }
        Ok(purged)
    })
    .await?;
    Ok(purged.map_or(0, |rows| u64::try_from(rows).unwrap_or(0)))
}

/// Detaches a partition without holding up the trail's writers (finishing a detach that was
/// interrupted), then drops it if it is past retention, or attaches it again if not (a detach
/// interrupted before retention was raised).
async fn drop_partition(
    conn: &mut PgConnection,
    partition: &Partition,
    past: bool,
) -> Result<(), StoreError> {
    let name = &partition.name;
    let how = if partition.detaching {
        "FINALIZE"
    } else {
        "CONCURRENTLY"
    };
    run(
        conn,
        format!("ALTER TABLE audit_events DETACH PARTITION {name} {how}"),
    )
    .await?;
    match (past, day_start(name)) {
        (true, _) => {
            run(conn, format!("DROP TABLE {name}")).await?;
            tracing::info!(
                partition = %name,
                rows = partition.rows,
                "dropped an audit partition past retention"
            );
        }
        (false, Some(start)) => attach_day(conn, name, start).await?,
        (false, None) => {}
    }
    Ok(())
}

/// Deletes the rows from before partitioning that are past retention, a chunk at a time.
async fn trim(conn: &mut PgConnection, before_ms: i64) -> Result<i64, StoreError> {
    let mut trimmed = 0;
    loop {
        let deleted = sqlx::query(TRIM_BEFORE_PARTITIONS)
            .bind(before_ms)
            .bind(TRIM_CHUNK)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        trimmed += i64::try_from(deleted).unwrap_or(i64::MAX);
        if deleted < TRIM_CHUNK as u64 {
            return Ok(trimmed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_by_their_utc_date_and_read_back() {
        assert_eq!(day_of(0), Some(("audit_events_1970_01_01".into(), 0)));
        let (name, start) = day_of(1_796_601_600_000 + 5).unwrap();
        assert_eq!(name, "audit_events_2026_12_07");
        assert_eq!(start, 1_796_601_600_000);
        assert_eq!(day_start(&name), Some(start));
        assert!(ours(&name) && ours(BEFORE_PARTITIONS));
        for other in [
            "audit_events_2026_13_01",
            "audit_events_x",
            "users",
            "audit_events_2026_1_07",
        ] {
            assert!(!ours(other), "{other}");
        }
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
