//! The identity use cases over an in-memory SQLite store and a mock clock.

use std::time::Duration;

use super::service::{KNOWN_FOR, commit_wait_remaining};
use super::*;
use crate::clock::Clock;
use crate::keys::KeySlot;
use crate::store::IdentityStore;
use crate::testing::{Fixture, START, chat_request};

fn ms(n: i64) -> time::Duration {
    time::Duration::milliseconds(n)
}

#[test]
fn commit_wait_ends_one_millisecond_past_the_cut_off() {
    let cut_off = START + ms(20);
    assert_eq!(
        commit_wait_remaining(cut_off, START),
        Duration::from_millis(21)
    );
    assert_eq!(
        commit_wait_remaining(cut_off, cut_off),
        Duration::from_millis(1)
    );
    assert_eq!(
        commit_wait_remaining(cut_off, cut_off + ms(1)),
        Duration::ZERO
    );
    assert_eq!(
        commit_wait_remaining(cut_off, cut_off + ms(500)),
        Duration::ZERO
    );
}

#[tokio::test]
async fn tokens_issued_before_a_revoke_die_and_later_ones_live() {
    let f = Fixture::new().await;
    let ring = f.keys.ring().load();
    let signer = ring.signer(KeySlot::Primary);
    let created = f.identities.create(None, None, signer).await.unwrap();
    let id = created.identity.id;
    let before = f
        .identities
        .issue(id, &chat_request(), signer)
        .await
        .unwrap();

    f.identities.revoke(id).await.unwrap();
    assert!(!f.is_active(&before.token));
    // Within the commit-wait window a token would still fall under the cut-off.
    f.clock.advance(ms(COMMIT_WAIT.as_millis() as i64));
    let at_cut_off = f
        .identities
        .issue(id, &chat_request(), signer)
        .await
        .unwrap();
    assert!(!f.is_active(&at_cut_off.token));
    f.clock.advance(ms(1));
    let after = f
        .identities
        .issue(id, &chat_request(), signer)
        .await
        .unwrap();
    assert!(f.is_active(&after.token));
}

#[tokio::test]
async fn a_known_identity_is_trusted_from_memory_for_an_hour_only() {
    let f = Fixture::new().await;
    let ring = f.keys.ring().load();
    let signer = ring.signer(KeySlot::Primary);
    let id = f
        .identities
        .create(None, None, signer)
        .await
        .unwrap()
        .identity
        .id;
    // Gone from the store without this instance hearing of it.
    assert!(f.store.delete_identity(id, f.clock.now_ms()).await.unwrap());

    f.clock.advance(KNOWN_FOR - ms(1));
    assert!(
        f.identities
            .issue(id, &chat_request(), signer)
            .await
            .is_ok()
    );
    f.clock.advance(ms(1));
    assert!(matches!(
        f.identities.issue(id, &chat_request(), signer).await,
        Err(IdentityError::NotFound)
    ));
}

#[tokio::test]
async fn a_deleted_identity_gets_no_token_and_its_tokens_die() {
    let f = Fixture::new().await;
    let ring = f.keys.ring().load();
    let signer = ring.signer(KeySlot::Secondary);
    let id = f
        .identities
        .create(None, None, signer)
        .await
        .unwrap()
        .identity
        .id;
    let token = f
        .identities
        .issue(id, &chat_request(), signer)
        .await
        .unwrap();
    assert!(f.is_active(&token.token));

    f.identities.delete(id).await.unwrap();
    assert!(!f.is_active(&token.token));
    assert!(matches!(
        f.identities.issue(id, &chat_request(), signer).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        f.identities.delete(id).await,
        Err(IdentityError::NotFound)
    ));
}

#[tokio::test]
async fn last_token_issued_at_is_visible_before_and_after_the_flush() {
    let f = Fixture::new().await;
    let ring = f.keys.ring().load();
    let signer = ring.signer(KeySlot::Primary);
    let id = f
        .identities
        .create(None, None, signer)
        .await
        .unwrap()
        .identity
        .id;
    assert_eq!(
        f.identities.get(id).await.unwrap().last_token_issued_at,
        None
    );

    f.clock.advance(ms(1234));
    f.identities
        .issue(id, &chat_request(), signer)
        .await
        .unwrap();
    let issued_at = Some(START + ms(1234));
    assert_eq!(
        f.identities.get(id).await.unwrap().last_token_issued_at,
        issued_at
    );
    assert_eq!(f.issue_log.flush(f.store.as_ref()).await.unwrap(), 1);
    assert_eq!(
        f.identities.get(id).await.unwrap().last_token_issued_at,
        issued_at
    );
}
