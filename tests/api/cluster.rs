//! Several Callsign processes on one PostgreSQL: a revocation, deletion or key regeneration on
//! one instance is honoured by the others within a second, and no race lets a token survive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// Settings for instances of one deployment on a fresh database: shared keys, master key,
/// resource id and endpoint, as behind a load balancer.
struct Deployment {
    settings: ServerSettings,
    dir: Arc<tempfile::TempDir>,
}

impl Deployment {
    async fn new() -> Option<Self> {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let settings = ServerSettings::new(Backend::Postgres, dir.path()).await?;
        Some(Deployment { settings, dir })
    }

    /// Starts one more instance of the real binary.
    async fn instance(&self) -> TestApp {
        let shared = [
            "--endpoint",
            "https://callsign.test/",
            "--resource-id",
            "cluster-test",
            // The race tests issue to one identity as fast as they can.
            "--rate-limit-per-identity",
            "0",
            "--key-admin",
            "api",
        ];
        spawn_process(&self.settings, self.dir.clone(), &shared).await
    }
}

/// Two instances of one deployment.
async fn cluster() -> Option<(TestApp, TestApp)> {
    let deployment = Deployment::new().await?;
    Some((deployment.instance().await, deployment.instance().await))
}

/// Polls `app` until `token` is inactive; returns how long that took.
async fn time_until_inactive(app: &TestApp, token: &str, since: Instant) -> Duration {
    loop {
        if !app.is_active(token).await {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "never became inactive"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_disabled_on_one_instance_has_its_tokens_die_on_the_other_within_a_second() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let session = a.new_session("disabled-elsewhere").await;
    let token = session["accessToken"]["token"].as_str().unwrap();
    let user = session["user"]["id"].as_str().unwrap();
    assert!(b.is_active(token).await);
    let disabled = a
        .signed(
            reqwest::Method::POST,
            &crate::app_client::user_path(user, "/:disable"),
        )
        .send()
        .await;
    assert_eq!(disabled.status(), 204);
    let elapsed = time_until_inactive(&b, token, Instant::now()).await;
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    let refresh_token = session["refreshToken"].as_str().unwrap();
    assert_eq!(b.refresh(refresh_token).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_one_instance_reaches_the_other_within_a_second() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let mut trials = Vec::new();
    for trial in 0..100 {
        let id = a.create_identity().await;
        let token = a.token_for(&id).await;
        assert!(
            b.is_active(&token).await,
            "trial {trial}: active on B before the revoke"
        );
        let deleting = trial % 5 == 4;
        let started = Instant::now();
        let response = if deleting {
            a.signed(reqwest::Method::DELETE, &identity_path(&id, ""))
                .send()
                .await
        } else {
            a.revoke(&id).await
        };
        assert_eq!(response.status(), 204);
        let returned = Instant::now();
        let elapsed = time_until_inactive(&b, &token, returned).await;
        assert!(
            elapsed < Duration::from_secs(1),
            "trial {trial}: {elapsed:?}"
        );
        let _ = started;
        trials.push(elapsed);
    }
    trials.sort();
    eprintln!(
        "propagation over {} trials (revoke/delete on A returned → inactive on B): p50 {:?}, p99 {:?}, max {:?}",
        trials.len(),
        percentile(&trials, 0.50),
        percentile(&trials, 0.99),
        trials[trials.len() - 1],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_regenerated_on_one_instance_is_honoured_by_the_other_within_a_second() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let id = a.create_identity().await;
    let under_primary = a.token_for(&id).await;
    let secondary = a.secondary_key.clone();
    let response = a
        .issue_with_key(&id, json!({ "scopes": ["voip"] }), &secondary)
        .await;
    let under_secondary = body(response).await["token"].as_str().unwrap().to_owned();

    let response = a
        .post("/keys/:regenerate")
        .json(&json!({ "keyType": "primary" }))
        .send()
        .await;
    assert_eq!(response.status(), 200);
    let new_primary = body(response).await["primaryKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let returned = Instant::now();

    while b.is_active_with_key(&under_primary, &secondary).await {
        assert!(
            returned.elapsed() < Duration::from_secs(1),
            "old primary's token still active on B"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("key regeneration reached B in {:?}", returned.elapsed());
    assert!(
        b.is_active_with_key(&under_secondary, &secondary).await,
        "secondary's token lives"
    );

    // B refuses the old primary and accepts the new one.
    let old = b.post(&format!("/identities?{API}")).send().await;
    assert_error(old, 401, "Denied").await;
    let new_key =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, new_primary).unwrap();
    let response = b
        .post(&format!("/identities?{API}"))
        .key(&new_key)
        .send()
        .await;
    assert_eq!(response.status(), 201);
}

/// One issue attempt on B: when it started and ended, and the token it got.
struct Issued {
    started: Instant,
    ended: Instant,
    token: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_issue_and_revoke_on_different_instances_let_no_token_survive() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut checked = (0, 0, 0);
    for trial in 0..20 {
        let id = a.create_identity().await;
        let issuer = {
            let (b, id) = (b.clone(), id.clone());
            tokio::spawn(async move {
                let mut issued = Vec::new();
                let until = Instant::now() + Duration::from_millis(120);
                while Instant::now() < until {
                    let started = Instant::now();
                    let token = b.token_for(&id).await;
                    issued.push(Issued {
                        started,
                        ended: Instant::now(),
                        token,
                    });
                }
                issued
            })
        };
        tokio::time::sleep(Duration::from_millis(20 + trial * 3)).await;
        let revoke_started = Instant::now();
        assert_eq!(a.revoke(&id).await.status(), 204);
        let revoke_returned = Instant::now();
        let issued = issuer.await.unwrap();

        tokio::time::sleep(Duration::from_secs(1)).await;
        for token in issued {
            let on_a = a.is_active(&token.token).await;
            let on_b = b.is_active(&token.token).await;
            assert_eq!(on_a, on_b, "trial {trial}: instances disagree");
            if token.ended < revoke_started {
                assert!(
                    !on_a,
                    "trial {trial}: a token issued before the revoke survived"
                );
                checked.0 += 1;
            } else if token.started > revoke_returned {
                assert!(
                    on_a,
                    "trial {trial}: a token issued after the revoke is dead"
                );
                checked.1 += 1;
            } else {
                checked.2 += 1;
            }
        }
    }
    eprintln!(
        "race: {} tokens issued before the revoke (all dead), {} after (all live), {} overlapping",
        checked.0, checked.1, checked.2
    );
    assert!(
        checked.0 > 0 && checked.1 > 0,
        "the race was exercised on both sides"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_after_a_revocation_honours_it_from_its_first_request() {
    let Some(deployment) = Deployment::new().await else {
        return;
    };
    let a = deployment.instance().await;
    let revoked = a.create_identity().await;
    let revoked_token = a.token_for(&revoked).await;
    assert_eq!(a.revoke(&revoked).await.status(), 204);
    let deleted = a.create_identity().await;
    let deleted_token = a.token_for(&deleted).await;
    let delete = a
        .signed(reqwest::Method::DELETE, &identity_path(&deleted, ""))
        .send()
        .await;
    assert_eq!(delete.status(), 204);

    let late = deployment.instance().await;
    assert!(
        !late.is_active(&revoked_token).await,
        "revoked before the instance started"
    );
    assert!(
        !late.is_active(&deleted_token).await,
        "deleted before the instance started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_token_issued_at_is_written_in_batches_and_seen_by_other_instances() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let id = a.create_identity().await;
    a.token_for(&id).await;
    let path = identity_path(&id, "");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = body(b.signed(reqwest::Method::GET, &path).send().await).await;
        if seen.get("lastTokenIssuedAt").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "never written: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rotated_on_one_instance_rotates_on_and_is_guarded_by_the_other() {
    let Some((a, b)) = cluster().await else {
        return;
    };
    let session = a.new_session("roaming").await;
    let first = session["refreshToken"].as_str().unwrap().to_owned();
    let second = body(a.refresh(&first).await).await;
    let second_rt = second["refreshToken"].as_str().unwrap();

    // The successor rotated on A works on B, and B's access token verifies on A.
    let third = b.refresh(second_rt).await;
    assert_eq!(third.status(), 200);
    let third = body(third).await;
    let access = third["accessToken"]["token"].as_str().unwrap();
    assert!(a.is_active(access).await);

    // The token spent on A, replayed on B, is reuse: the family dies on both instances.
    assert_eq!(b.refresh(&first).await.status(), 401);
    let third_rt = third["refreshToken"].as_str().unwrap();
    assert_eq!(a.refresh(third_rt).await.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(1);
    while a.is_active(access).await {
        assert!(
            Instant::now() < deadline,
            "the reuse revocation never reached A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
