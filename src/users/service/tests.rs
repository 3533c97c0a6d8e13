//! The mapping and erasure use cases over an in-memory SQLite store.

use super::*;
use crate::store::{AuditFilter, AuditRecord, AuditStore};
use crate::testing::{Fixture, chat_request};

#[tokio::test]
async fn concurrent_first_requests_get_one_identity() {
    let f = Fixture::new().await;
    let user = f.app_user("racer").await;
    let all = futures_util::future::join_all((0..8).map(|_| f.users.default_identity(user)));
    let results: Vec<_> = all.await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(id, _)| *id == results[0].0));
}

/// A row as the audit writer stores it, from a browser.
fn row(app_user: AppUserId, identity: Option<IdentityId>) -> AuditRecord {
    AuditRecord {
        id: 0,
        at_ms: 0,
        action: Action::TokenIssued,
        actor: "public".into(),
        identity,
        app_user: Some(app_user),
        details: None,
        client_address: Some("192.0.2.7".into()),
        request_id: None,
        client_request_id: None,
    }
}

#[tokio::test]
async fn erasure_scrubs_the_audit_trail_in_its_own_transaction() {
    let f = Fixture::new().await;
    let (alice, bob) = (f.app_user("alice").await, f.app_user("bob").await);
    let own = f.users.create_identity(alice).await.unwrap();
    let shared = f.users.create_identity(alice).await.unwrap();
    f.users.link(bob, shared).await.unwrap();
    f.store
        .append_audit(&[
            row(alice, Some(shared)),
            row(alice, None),
            row(bob, Some(shared)),
        ])
        .await
        .unwrap();
    // Straight on the store: nothing is left for the audit writer to do afterwards.
    f.store.erase_app_user(alice, 0).await.unwrap();
    // A row that was on its way during the erasure.
    f.store
        .append_audit(&[row(alice, Some(own))])
        .await
        .unwrap();

    let rows = f
        .store
        .audit_events(&AuditFilter::default(), 100)
        .await
        .unwrap();
    let addresses = |user: AppUserId| -> Vec<_> {
        rows.iter()
            .filter(|r| r.app_user == Some(user) && r.at_ms == 0)
            .map(|r| r.client_address.as_deref())
            .collect()
    };
    assert_eq!(addresses(alice), [None, None, None]);
    assert_eq!(addresses(bob), [Some("192.0.2.7")]);
}

#[tokio::test]
async fn erasure_kills_sole_identities_tokens_and_leaves_shared_ones() {
    let f = Fixture::new().await;
    let (alice, bob) = (f.app_user("alice").await, f.app_user("bob").await);
    let (own, _) = f.users.issue(alice, None, &chat_request()).await.unwrap();
    let shared = f.users.create_identity(alice).await.unwrap();
    assert!(f.users.link(bob, shared).await.unwrap());
    let (_, own_token) = f
        .users
        .issue(alice, Some(own), &chat_request())
        .await
        .unwrap();
    let (_, shared_token) = f
        .users
        .issue(bob, Some(shared), &chat_request())
        .await
        .unwrap();

    f.users.erase(alice).await.unwrap();
    assert!(!f.is_active(&own_token.token));
    assert!(f.is_active(&shared_token.token));
    assert_eq!(f.users.identities_of(bob).await.unwrap(), vec![shared]);
    assert!(matches!(
        f.users.erase(alice).await,
        Err(AppUserError::UserNotFound)
    ));
    assert!(matches!(
        f.users.issue(bob, Some(own), &chat_request()).await,
        Err(AppUserError::NotUsersIdentity)
    ));
}
