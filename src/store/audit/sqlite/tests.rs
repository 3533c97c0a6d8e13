use std::borrow::Cow;
use std::time::Duration;

use super::*;
use crate::store::{AuditStore, PoolOptions, Store};
use crate::vocabulary::{Action, IdentityId};

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("callsign.db").display());
    let options = PoolOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
    };
    let store = SqliteStore::open(&url, &options).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

fn row(at_ms: i64, action: Action, identity: Option<IdentityId>) -> AuditRecord {
    AuditRecord {
        id: 0,
        at_ms,
        action,
        actor: Cow::Borrowed("access-key"),
        identity,
        app_user: None,
        details: None,
        client_address: Some("192.0.2.7".into()),
        request_id: None,
        client_request_id: None,
    }
}

/// One step of indexing in a write of its own, as an append takes one.
async fn index_step(store: &SqliteStore, lag: i64, step: i64) {
    let mut tx = store.begin_write().await.unwrap();
    index_identities(&mut tx, lag, step).await.unwrap();
    tx.commit().await.unwrap();
}

/// Indexes whatever is past the mark in one round, as appends do once it reaches [`INDEX_LAG`].
async fn index_now(store: &SqliteStore) {
    index_step(store, 1, INDEX_STEP).await;
}

/// Every entry of the identity index.
async fn entries(store: &SqliteStore) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT identity_id, event_id FROM audit_identity_events")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// `(up_to, round_to)` of the mark.
async fn mark(store: &SqliteStore) -> (i64, i64) {
    sqlx::query_as("SELECT up_to, round_to FROM audit_identity_mark")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn listed(store: &SqliteStore, filter: AuditFilter, limit: u32) -> Vec<AuditRecord> {
    store.audit_events(&filter, limit).await.unwrap()
}

/// Every row about `identity`, newest first, read page by page (`limit` a page).
async fn paged(store: &SqliteStore, identity: IdentityId, limit: u32) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut before_id = None;
    loop {
        let filter = AuditFilter {
            identity: Some(identity),
            before_id,
            ..AuditFilter::default()
        };
        let page = listed(store, filter, limit).await;
        ids.extend(page.iter().map(|record| record.id));
        match page.last() {
            Some(last) if page.len() == limit as usize => before_id = Some(last.id),
            _ => return ids,
        }
    }
}

/// What a scan of every row finds about `identity`, newest first.
async fn scanned(store: &SqliteStore, identity: IdentityId) -> Vec<i64> {
    listed(store, AuditFilter::default(), 1_000)
        .await
        .into_iter()
        .filter(|record| record.identity == Some(identity))
        .map(|record| record.id)
        .collect()
}

/// Rows for `a` and `b` interleaved, and one about neither: `rounds` of three.
async fn append_rounds(store: &SqliteStore, a: IdentityId, b: IdentityId, from_ms: i64) {
    let records: Vec<AuditRecord> = (0..10)
        .flat_map(|i| {
            [
                row(from_ms + i, Action::TokenIssued, Some(a)),
                row(from_ms + i, Action::TokenIssued, Some(b)),
                row(from_ms + i, Action::AccessKeyRegenerated, None),
            ]
        })
        .collect();
    store.append_audit(&records).await.unwrap();
}

#[tokio::test]
async fn an_identitys_rows_are_listed_whole_on_both_sides_of_the_indexed_mark() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    // Nothing is indexed yet: every row is found by the scan past the mark.
    assert_eq!(paged(&store, a, 4).await, scanned(&store, a).await);
    index_now(&store).await;
    append_rounds(&store, a, b, 2_000).await;
    let revoked = row(3_000, Action::TokensRevoked, Some(a));
    store.append_audit(&[revoked]).await.unwrap();

    let everything = scanned(&store, a).await;
    assert_eq!(everything.len(), 21);
    for limit in [1, 3, 7, 100] {
        assert_eq!(
            paged(&store, a, limit).await,
            everything,
            "pages of {limit}"
        );
    }
    assert_eq!(paged(&store, b, 6).await, scanned(&store, b).await);
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_identity_events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(indexed, 20, "the first appends' rows about an identity");

    // The other filters hold on both sides too.
    let since = AuditFilter {
        identity: Some(a),
        from_ms: Some(1_005),
        to_ms: Some(2_003),
        ..AuditFilter::default()
    };
    let at: Vec<i64> = listed(&store, since, 100)
        .await
        .iter()
        .map(|record| record.at_ms)
        .collect();
    assert_eq!(at, [2_002, 2_001, 2_000, 1_009, 1_008, 1_007, 1_006, 1_005]);
    let revocations = AuditFilter {
        identity: Some(a),
        action: Some(Action::TokensRevoked),
        ..AuditFilter::default()
    };
    assert_eq!(listed(&store, revocations, 100).await.len(), 1);
}

#[tokio::test]
async fn a_round_starts_at_the_lag_and_moves_the_mark_only_once_through() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    index_step(&store, 31, 8).await;
    assert_eq!(mark(&store).await, (0, 0), "30 rows are fewer than the lag");
    index_step(&store, 30, 8).await;
    assert_eq!(
        mark(&store).await,
        (0, 30),
        "a round to the last row, under way"
    );
    // The writer's sorted copy of the round is lost (as with a new connection): the next step
    // makes it again from where the mark says the round is.
    let mut tx = store.begin_write().await.unwrap();
    for table in ["temp.audit_round", "temp.audit_round_copied"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // The listing stays whole throughout: entries of a round under way are not read yet.
    for _ in 0..2 {
        assert_eq!(paged(&store, a, 3).await, scanned(&store, a).await);
        assert_eq!(paged(&store, b, 4).await, scanned(&store, b).await);
        index_step(&store, 30, 8).await;
    }
    assert_eq!(
        mark(&store).await,
        (30, 30),
        "20 entries in steps of 8: through"
    );
    // Rows appended since wait for the next round.
    append_rounds(&store, a, b, 2_000).await;
    assert_eq!(mark(&store).await, (30, 30));
    let first = entries(&store).await;
    assert_eq!(first.len(), 20, "each entry once");
    assert!(first.iter().all(|(_, event)| *event <= 30));
    assert_eq!(paged(&store, a, 3).await, scanned(&store, a).await);
}

#[tokio::test]
async fn a_round_is_copied_a_few_rows_an_append_then_indexed_whole() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    // With steps of one entry, an append copies four rows: 30 rows take eight appends, and
    // nothing is indexed until the copy is whole.
    for _ in 0..7 {
        index_step(&store, 30, 1).await;
        assert_eq!(mark(&store).await, (0, 30));
        assert!(entries(&store).await.is_empty(), "indexed from half a copy");
        assert_eq!(paged(&store, a, 3).await, scanned(&store, a).await);
    }
    // The last rows, and the round's first entry.
    index_step(&store, 30, 1).await;
    assert_eq!(entries(&store).await.len(), 1);
    for _ in 0..19 {
        assert_eq!(mark(&store).await, (0, 30));
        index_step(&store, 30, 1).await;
        assert_eq!(paged(&store, b, 4).await, scanned(&store, b).await);
    }
    assert_eq!(mark(&store).await, (30, 30), "through: the mark moves");
    assert_eq!(entries(&store).await.len(), 20, "each entry once");
    assert_eq!(paged(&store, a, 3).await, scanned(&store, a).await);
}

#[tokio::test]
async fn erasure_scrubs_an_identitys_rows_indexed_or_not_and_no_one_elses() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    index_now(&store).await;
    append_rounds(&store, a, b, 2_000).await;

    let mut tx = store.begin_write().await.unwrap();
    SqliteStore::scrub_identity_audit(&mut tx, a).await.unwrap();
    tx.commit().await.unwrap();

    let rows = listed(&store, AuditFilter::default(), 1_000).await;
    for record in &rows {
        let scrubbed = record.client_address.is_none();
        assert_eq!(scrubbed, record.identity == Some(a), "{record:?}");
    }
}

#[tokio::test]
async fn purged_rows_leave_the_identity_index_with_them() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    index_now(&store).await;
    append_rounds(&store, a, b, 2_000).await;
    index_now(&store).await;

    // Everything stamped before 2 005: the first appends and half of the second.
    let purged = store.purge_audit(2_005).await.unwrap();
    assert_eq!(purged, 45);
    let kept = entries(&store).await;
    assert_eq!(kept.len(), 10, "five rows left for each identity");
    for (_, event) in &kept {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE id = $1")
            .bind(event)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 1, "an entry for a purged row");
    }
    assert_eq!(paged(&store, a, 2).await, scanned(&store, a).await);
}

#[tokio::test]
async fn rows_purged_while_a_round_is_under_way_get_no_entries() {
    let (_dir, store) = store().await;
    let (a, b) = (IdentityId::generate(), IdentityId::generate());
    append_rounds(&store, a, b, 1_000).await;
    index_step(&store, 30, 4).await;
    assert_eq!(
        mark(&store).await,
        (0, 30),
        "a round under way, its copy begun"
    );

    assert_eq!(store.purge_audit(1_005).await.unwrap(), 15);
    index_now(&store).await;
    assert_eq!(mark(&store).await, (30, 30));
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_identity_events x \
         WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id = x.event_id)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(paged(&store, a, 2).await, scanned(&store, a).await);
}
