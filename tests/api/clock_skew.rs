//! Clock trouble: revocation is exact only while instances' clocks agree within the commit wait
//! (20 ms). An instance whose clock is further off the database's says so on `/readyz` (503)
//! and in its metrics, so it is taken out of service rather than issue tokens a revocation
//! could miss. Injected clocks; nothing sleeps.

use std::sync::Arc;

use callsign::clock::SkewedClock;

use crate::helpers::*;

async fn instance_off_by(offset_ms: i64) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Postgres, dir.path()).await?;
    let clock = Arc::new(SkewedClock {
        offset: time::Duration::milliseconds(offset_ms),
    });
    Some(spawn_app_with_clock(settings, dir, &["--metrics", "public"], clock).await)
}

async fn readiness(app: &TestApp) -> reqwest::Response {
    app.client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_instance_whose_clock_is_off_is_not_ready() {
    for offset_ms in [1_000, -1_000] {
        let Some(app) = instance_off_by(offset_ms).await else {
            return;
        };
        let message = assert_error(readiness(&app).await, 503, "NotReady").await;
        assert!(message.contains("clock"), "{message}");
        // The gauge is the process's: other instances in this test process set it too, each
        // at its own resyncs (every second here), so wait for this one's.
        let expected = offset_ms as f64 / 1000.0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let skew = exported_skew(&app).await;
            if (skew - expected).abs() < 0.2 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{skew}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_clock_within_the_bound_is_ready() {
    let Some(app) = instance_off_by(5).await else {
        return;
    };
    assert_eq!(readiness(&app).await.status(), 200);
}

async fn exported_skew(app: &TestApp) -> f64 {
    metric(app, "callsign_clock_skew_seconds")
        .await
        .expect("the skew is exported")
}
