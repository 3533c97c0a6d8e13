//! The transactional outbox: a change its instance committed but had not dispatched when it was
//! killed (`kill -9`) is dispatched by the restarted instance: taken out of the outbox, counted,
//! on PostgreSQL announced to every instance listening, and what follows it done (a deleted
//! identity's audit rows lose their client address).

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::app_client::encoded;
use crate::helpers::*;
use crate::process::signal;

backend_tests!(a_change_left_in_the_outbox_by_a_killed_instance_is_dispatched_after_restart);

const CHANNEL: &str = "callsign_changes";

async fn outbox_rows(url: &str) -> i64 {
    on_store!(url, |db| {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&mut db)
            .await
            .expect("count the outbox")
    })
}

async fn a_change_left_in_the_outbox_by_a_killed_instance_is_dispatched_after_restart(
    app: TestApp,
) {
    let settings = app.settings.clone();
    let url = settings.database_url.clone();
    let dir = app._dir.clone().expect("a data directory");
    drop(app);
    let shared = ["--metrics", "public", "--rate-limits", "off"];
    let victim = spawn_process(&settings, dir.clone(), &shared).await;
    let id = victim.create_identity().await;
    assert_eq!(victim.revoke(&id).await.status(), 204);
    let about_it = format!("identity={}", encoded(&id));
    let rows = victim.audit_events(&about_it, 2).await;
    assert!(rows.iter().all(|row| row["clientAddress"] == "127.0.0.1"));
    // Its own revocation was dispatched at once: nothing waits.
    let deadline = Instant::now() + Duration::from_secs(5);
    while outbox_rows(&url).await > 0 {
        assert!(Instant::now() < deadline, "the outbox was not drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(victim.pid().expect("a process"), "KILL");
    drop(victim);

    // What the killed instance's last transaction left: its deletion's outbox row, committed,
    // not yet dispatched.
    let uuid = id
        .rsplit('_')
        .next()
        .expect("an identity id")
        .replace('-', "");
    let event = format!("d:{uuid}");
    on_store!(url.as_str(), |db| {
        sqlx::query("INSERT INTO outbox (event) VALUES ($1)")
            .bind(&event)
            .execute(&mut db)
            .await
            .expect("leave a row in the outbox");
    });
    assert_eq!(outbox_rows(&url).await, 1);
    let mut listener = if url.starts_with("postgres") {
        let mut listener = sqlx::postgres::PgListener::connect(&url).await.unwrap();
        listener.listen(CHANNEL).await.unwrap();
        Some(listener)
    } else {
        None
    };

    let restarted = spawn_process(&settings, dir.clone(), &shared).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while outbox_rows(&url).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the restarted instance did not dispatch the row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(listener) = &mut listener {
        let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("announced to every instance")
            .unwrap();
        assert_eq!(heard.payload(), event);
    }
    assert_eq!(
        metric(&restarted, "callsign_outbox_dispatched_total").await,
        Some(1.0)
    );
    let rows = restarted.audit_events(&about_it, 2).await;
    assert!(
        rows.iter().all(|row| row.get("clientAddress").is_none()),
        "{rows:?}"
    );
}
