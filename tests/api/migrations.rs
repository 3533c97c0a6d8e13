//! A database whose migrations are not exactly Callsign's: one that failed half-way (sqlx marks
//! it `success = false`), one that is missing, or one from a newer release. A running instance
//! stops reporting ready for the first two (at its next resync: a probe costs no query); a
//! starting instance refuses the database with an error naming the migration instead of serving
//! on a schema it does not know.

use std::time::{Duration, Instant};

use callsign::config::Cli;
use callsign::startup::Application;
use clap::Parser;
use sqlx::Connection;

use crate::helpers::*;

backend_tests!(
    a_failed_migration_makes_the_instance_unready_and_a_new_one_refuse_to_start,
    a_missing_migration_makes_the_instance_unready,
    a_migration_from_a_newer_release_is_refused_at_start,
    readiness_is_the_last_resyncs_verdict_not_a_query_per_probe,
);

/// Runs `sql` on the test's database, as an operator's tool would.
async fn execute(settings: &ServerSettings, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    on_store!(&settings.database_url, |db| {
        sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
    });
}

async fn readiness(app: &TestApp) -> reqwest::Response {
    app.client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
}

/// The readiness once it is not 200, or after a few resyncs (of 1 s) without a change.
async fn readiness_after_resyncs(app: &TestApp) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = readiness(app).await;
        if response.status() != 200 || Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a second instance on the same database; returns the whole error chain if it refuses.
async fn start_refused(settings: &ServerSettings) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = settings.clone();
    args.data_dir = dir.path().to_owned();
    let argv = std::iter::once("callsign".to_owned())
        .chain(args.args())
        .chain(["--startup-timeout-secs", "5"].map(String::from));
    let cli = Cli::try_parse_from(argv).expect("valid arguments");
    let started = Instant::now();
    let error = match Application::build(&cli.config).await {
        Ok(_) => panic!("an instance started on a database it cannot vouch for"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after retrying: {:?}",
        started.elapsed()
    );
    assert!(error.contains("migrat"), "{error}");
    error
}

const LATEST: &str = "(SELECT max(version) FROM _sqlx_migrations)";

/// The version of the latest migration this build ships (the same for both stores): the
/// number its file name starts with.
fn latest_migration_shipped() -> u32 {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    std::fs::read_dir(directory)
        .expect("the migrations directory")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse().ok()
        })
        .max()
        .expect("migrations")
}

async fn a_failed_migration_makes_the_instance_unready_and_a_new_one_refuse_to_start(app: TestApp) {
    assert_eq!(readiness(&app).await.status(), 200);
    execute(
        &app.settings,
        &format!("UPDATE _sqlx_migrations SET success = false WHERE version = {LATEST}"),
    )
    .await;
    let message = assert_error(readiness_after_resyncs(&app).await, 503, "NotReady").await;
    assert!(message.contains("not migrated"), "{message}");
    let error = start_refused(&app.settings).await;
    let latest = format!("migrations {} failed part-way", latest_migration_shipped());
    assert!(
        error.contains(&latest),
        "names the failed migration: {error}"
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive, only not ready");
}

async fn a_missing_migration_makes_the_instance_unready(app: TestApp) {
    execute(
        &app.settings,
        &format!("DELETE FROM _sqlx_migrations WHERE version = {LATEST}"),
    )
    .await;
    let message = assert_error(readiness_after_resyncs(&app).await, 503, "NotReady").await;
    assert!(message.contains("not migrated"), "{message}");
}

async fn a_migration_from_a_newer_release_is_refused_at_start(app: TestApp) {
    let checksum = if app.settings.database_url.starts_with("sqlite:") {
        "X'00'"
    } else {
        "'\\x00'::bytea"
    };
    execute(
        &app.settings,
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer release', true, {checksum}, 0)"
        ),
    )
    .await;
    // The running instance's own migrations are all there: it keeps serving.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(readiness(&app).await.status(), 200);
    let error = start_refused(&app.settings).await;
    assert!(
        error.contains("9999"),
        "names the unknown migration: {error}"
    );
}

/// `/readyz` reads what the last resync found, so probes cost the database nothing: an instance
/// resyncing hourly still reports ready after a migration goes missing, while one resyncing
/// every second soon reports it.
async fn readiness_is_the_last_resyncs_verdict_not_a_query_per_probe(app: TestApp) {
    let mut hourly = app.settings.clone();
    hourly.resync_interval_ms = 3_600_000;
    let hourly = spawn_app_with(hourly, tempfile::tempdir().unwrap(), &[]).await;
    assert_eq!(readiness(&hourly).await.status(), 200);
    execute(
        &app.settings,
        &format!("DELETE FROM _sqlx_migrations WHERE version = {LATEST}"),
    )
    .await;
    assert_error(readiness_after_resyncs(&app).await, 503, "NotReady").await;
    for _ in 0..20 {
        assert_eq!(readiness(&hourly).await.status(), 200);
    }
}
