//! The audit trail's queue and writer over an in-memory SQLite store: what a shutdown writes,
//! what a full queue drops or waits for.

use std::net::{IpAddr, Ipv4Addr};

use tokio_util::sync::CancellationToken;

use super::*;
use crate::clock::MockClock;
use crate::store::{AuditStore, SqliteStore};
use crate::vocabulary::{AppUserId, IdentityId};

async fn audit() -> (Arc<Audit>, AuditWriter) {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
    Audit::new(store, clock)
}

fn from_browser() -> RequestContext {
    RequestContext {
        actor: Actor::Public,
        client_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        request_id: Some("req-1".into()),
        client_request_id: None,
        user_agent: None,
    }
}

#[tokio::test]
async fn a_shutdown_writes_everything_queued() {
    let (audit, writer) = audit().await;
    let user = AppUserId::generate();
    let identity = IdentityId::generate();
    from_browser()
        .scope(async {
            audit.record(AuditEvent::about_app_user(Action::SignedIn, Some(user)));
            audit.record(AuditEvent::about_identity(Action::TokenIssued, identity));
        })
        .await;
    audit.record(AuditEvent::about_identity(
        Action::IdentityDeleted,
        identity,
    ));

    let cancelled = CancellationToken::new();
    cancelled.cancel();
    writer.run(cancelled).await;

    let rows = audit.events(&AuditFilter::default(), 10).await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.action.as_str(),
                r.actor.as_ref(),
                r.client_address.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("identity.deleted", "operator", None),
            ("token.issued", "public", Some("192.0.2.7")),
            ("appUser.signedIn", "public", None),
        ]
    );
    assert_eq!(rows[1].request_id.as_deref(), Some("req-1"));
}

#[tokio::test]
async fn an_issued_token_waits_for_room_and_is_refused_without_it() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let clock = Arc::new(MockClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
    let (audit, writer) = Audit::with_capacity(store.clone(), AuditSink::Store(store), clock, 2);
    let issued = || AuditEvent::about_identity(Action::TokenIssued, IdentityId::generate());
    audit.record_issue(issued()).await.unwrap();
    audit.record_issue(issued()).await.unwrap();
    // Full, and nobody writes: refused once the wait is over.
    let started = tokio::time::Instant::now();
    assert!(audit.record_issue(issued()).await.is_err());
    assert!(started.elapsed() >= ROOM_WAIT);
    // Any other event is dropped rather than wait.
    audit.record(AuditEvent::about_identity(
        Action::TokensRevoked,
        IdentityId::generate(),
    ));

    // With the writer draining, a waiting token gets its room.
    let cancel = CancellationToken::new();
    let writing = tokio::spawn(writer.run(cancel.clone()));
    audit.record_issue(issued()).await.unwrap();
    cancel.cancel();
    writing.await.unwrap();
    let rows = audit.events(&AuditFilter::default(), 10).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|row| row.action == Action::TokenIssued));
}

#[test]
fn action_names_round_trip() {
    for action in Action::ALL {
        assert_eq!(Action::parse(action.as_str()), Some(action));
    }
    assert_eq!(Action::parse("token.minted"), None);
}

#[tokio::test]
async fn sqlite_purges_a_large_backlog_in_chunks_and_keeps_the_rest() {
    let store = SqliteStore::in_memory().await.unwrap();
    let record = |at_ms| AuditRecord {
        id: 0,
        at_ms,
        action: Action::TokenIssued,
        actor: "accessKey:primary".into(),
        identity: Some(IdentityId::generate()),
        app_user: None,
        details: None,
        client_address: None,
        request_id: None,
        client_request_id: None,
    };
    // More than two chunks past retention, and one row within it.
    let old: Vec<AuditRecord> = (0..12_001).map(record).collect();
    store.append_audit(&old).await.unwrap();
    store.append_audit(&[record(1_000_000)]).await.unwrap();
    assert_eq!(store.purge_audit(500_000).await.unwrap(), 12_001);
    let left = store
        .audit_events(&AuditFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|row| row.at_ms).collect::<Vec<_>>(),
        [1_000_000]
    );
}
