//! Audit retention: PostgreSQL keeps the trail in one partition per UTC day, made a week ahead,
//! and drops whole days past retention (the rows from before partitioning with them); SQLite
//! deletes rows. Either way the upkeep forgets events past retention and keeps the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callsign::clock::SkewedClock;
use sqlx::Connection;

use crate::helpers::*;

backend_tests!(events_past_retention_go_and_the_others_stay);

const DAY_MS: i64 = 86_400_000;

async fn execute(settings: &ServerSettings, sql: String) {
    let sql = sqlx::AssertSqlSafe(sql);
    on_store!(&settings.database_url, |db| {
        sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
    });
}

async fn count(settings: &ServerSettings, sql: String) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql);
    on_store!(&settings.database_url, |db| {
        sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
    })
}

/// The names of the trail's partitions (PostgreSQL).
async fn partitions(settings: &ServerSettings) -> Vec<String> {
    let mut db = sqlx::PgConnection::connect(&settings.database_url)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_events'::regclass",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
}

fn day_name(at_ms: i64) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(DAY_MS) * 86_400).unwrap();
    format!(
        "audit_events_{:04}_{:02}_{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

async fn insert_event(settings: &ServerSettings, at_ms: i64) {
    execute(
        settings,
        format!(
            "INSERT INTO audit_events (at_ms, action, actor) \
             VALUES ({at_ms}, 'identity.created', 'accessKey:primary')"
        ),
    )
    .await;
}

async fn events_past_retention_go_and_the_others_stay(app: TestApp) {
    app.create_identity().await;
    app.audit_events("action=identity.created", 1).await;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let postgres = !app.settings.database_url.starts_with("sqlite:");
    if postgres {
        // Today is in the rows from before partitioning; the coming week has its days ready.
        let existing = partitions(&app.settings).await;
        for ahead in 1..=7 {
            let day = day_name(now_ms + ahead * DAY_MS);
            assert!(existing.contains(&day), "{day} missing from {existing:?}");
        }
    }
    // Seen ten days on, with three days' retention: tomorrow's event is past it, the one a
    // week on is not.
    let tomorrow_ms = now_ms + DAY_MS;
    let week_on_ms = now_ms + 7 * DAY_MS + 60_000;
    insert_event(&app.settings, tomorrow_ms).await;
    insert_event(&app.settings, week_on_ms).await;
    let stranded = day_name(tomorrow_ms + DAY_MS);
    if postgres {
        // A pass that stopped between detaching a day and dropping it left it behind.
        execute(
            &app.settings,
            format!("ALTER TABLE audit_events DETACH PARTITION {stranded}"),
        )
        .await;
    }
    let settings = app.settings.clone();
    let later = Arc::new(SkewedClock {
        offset: time::Duration::days(10),
    });
    let _app = app
        .restart_with_clock(&["--audit-retention-days", "3"], later)
        .await;

    // The upkeep runs at start.
    let before_ms = now_ms + 7 * DAY_MS;
    let deadline = Instant::now() + Duration::from_secs(10);
    let past = format!("SELECT count(*) FROM audit_events WHERE at_ms < {before_ms}");
    while count(&settings, past.clone()).await > 0 {
        assert!(Instant::now() < deadline, "events past retention remain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = format!("SELECT count(*) FROM audit_events WHERE at_ms = {week_on_ms}");
    assert_eq!(count(&settings, kept).await, 1);
    if postgres {
        let left = partitions(&settings).await;
        let tables: Vec<String> = {
            let mut db = sqlx::PgConnection::connect(&settings.database_url)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT relname::text FROM pg_class WHERE relkind = 'r'")
                .fetch_all(&mut db)
                .await
                .unwrap()
        };
        for gone in [
            "audit_events_before_partitions".to_owned(),
            day_name(tomorrow_ms),
            stranded,
        ] {
            assert!(!tables.contains(&gone), "{gone} is still a table");
        }
        // Room is made for the new clock's week.
        for ahead in 0..=7 {
            let day = day_name(now_ms + (10 + ahead) * DAY_MS);
            assert!(left.contains(&day), "{day} missing from {left:?}");
        }
    }
}

/// An instance's clock may jump past the days made ahead: the row's day is made on the spot.
#[tokio::test]
async fn a_row_stamped_on_a_day_without_a_partition_gets_its_day_made() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    // Today is in the rows from before partitioning; without them, today has no partition.
    execute(
        &app.settings,
        "ALTER TABLE audit_events DETACH PARTITION audit_events_before_partitions; \
         DROP TABLE audit_events_before_partitions"
            .into(),
    )
    .await;
    app.create_identity().await;
    app.audit_events("action=identity.created", 1).await;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let today = day_name(now_ms);
    let made = partitions(&app.settings).await;
    assert!(made.contains(&today), "{today} missing from {made:?}");
}
