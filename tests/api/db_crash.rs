//! PostgreSQL crashing under load (`pg_ctl stop -m immediate` on a private cluster) and coming
//! back: only errors during the outage, each a fast 503 rather than a hang; full recovery without
//! restarting Callsign; and every create and revocation answered 2xx is in the database after.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

use crate::helpers::*;
use crate::private_pg::PrivatePostgres;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Create,
    Issue,
    Revoke,
}

struct Answer {
    call: Call,
    at: Instant,
    took: Duration,
    status: u16,
    identity: Option<String>,
}

/// The uuid at the end of a raw id (`8:acs:<resource>_<uuid>`).
fn uuid_of(raw: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(raw.rsplit('_').next().unwrap()).unwrap()
}

async fn worker(app: Arc<TestApp>, until: Instant, answers: Arc<Mutex<Vec<Answer>>>) {
    let mut mine: Vec<String> = Vec::new();
    let mut turn = 0usize;
    while Instant::now() < until {
        turn += 1;
        let started = Instant::now();
        let (call, response, identity) = match (turn % 3, mine.last().cloned()) {
            (1, Some(id)) => (
                Call::Issue,
                app.issue(&id, json!({ "scopes": ["chat"] })).await,
                Some(id),
            ),
            (2, Some(id)) => (Call::Revoke, app.revoke(&id).await, Some(id)),
            _ => (
                Call::Create,
                app.post(&format!("/identities?{API}")).send().await,
                None,
            ),
        };
        let status = response.status().as_u16();
        let identity = match call {
            Call::Create if status == 201 => {
                let id = body(response).await["identity"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                mine.push(id.clone());
                Some(id)
            }
            _ => identity,
        };
        answers.lock().unwrap().push(Answer {
            call,
            at: started,
            took: started.elapsed(),
            status,
            identity,
        });
        if status == 503 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_under_load_loses_nothing_acknowledged() {
    let Some(pg) = PrivatePostgres::start(None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    settings.database_url = pg.url.clone();
    let app = Arc::new(
        spawn_app_with(
            settings,
            dir,
            &["--db-acquire-timeout-ms", "1000", "--rate-limits", "off"],
        )
        .await,
    );

    let started = Instant::now();
    let until = started + Duration::from_secs(9);
    let answers = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..6)
        .map(|_| tokio::spawn(worker(app.clone(), until, answers.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let crashed = Instant::now();
    pg.crash();
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restart();
    let restarted = Instant::now();
    for worker in workers {
        worker.await.unwrap();
    }
    let answers = std::mem::take(&mut *answers.lock().unwrap());

    let mut counts = std::collections::BTreeMap::new();
    for answer in &answers {
        *counts
            .entry((format!("{:?}", answer.call), answer.status))
            .or_insert(0) += 1;
        assert!(
            matches!(answer.status, 200 | 201 | 204 | 503),
            "{:?} answered {}",
            answer.call,
            answer.status
        );
        assert!(
            answer.took < Duration::from_secs(5),
            "{:?} hung for {:?}",
            answer.call,
            answer.took
        );
        if answer.status == 503 {
            assert!(
                answer.at + answer.took >= crashed
                    && answer.at < restarted + Duration::from_secs(5),
                "a 503 outside the outage: {:?} at {:?}",
                answer.call,
                answer.at - started
            );
        }
    }
    eprintln!("answers by call and status: {counts:?}");
    let recovered = answers
        .iter()
        .filter(|a| a.at > restarted + Duration::from_secs(2))
        .all(|a| a.status != 503);
    assert!(
        recovered,
        "full recovery within 2 s of the database's return"
    );
    assert!(
        answers.iter().any(|a| a.status == 503),
        "the outage was noticed"
    );
    assert!(
        answers
            .iter()
            .any(|a| a.call == Call::Create && a.status == 201 && a.at > restarted),
        "creates succeed again"
    );

    // Every acknowledged write is in the database.
    let mut db = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    let created: Vec<uuid::Uuid> = answers
        .iter()
        .filter(|a| a.call == Call::Create && a.status == 201)
        .map(|a| uuid_of(a.identity.as_deref().unwrap()))
        .collect();
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM identities WHERE id = ANY($1)")
        .bind(&created)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(found as usize, created.len(), "every 201 create is stored");
    let revoked: Vec<uuid::Uuid> = answers
        .iter()
        .filter(|a| a.call == Call::Revoke && a.status == 204)
        .map(|a| uuid_of(a.identity.as_deref().unwrap()))
        .collect();
    assert!(!revoked.is_empty(), "revocations were acknowledged");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identities WHERE id = ANY($1) AND tokens_revoked_before_ms IS NOT NULL",
    )
    .bind(&revoked)
    .fetch_one(&mut db)
    .await
    .unwrap();
    let distinct: std::collections::HashSet<_> = revoked.iter().collect();
    assert_eq!(
        stored as usize,
        distinct.len(),
        "every 204 revocation is stored"
    );
}
