//! Guests over an in-memory SQLite store and a mock clock: a guest identity lives until its last
//! token expires, then the purge deletes it.

use std::net::{IpAddr, Ipv4Addr};

use crate::identity::IdentityError;
use crate::testing::{Fixture, chat_request};
use crate::users::service::GUEST_GRACE_MS;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn ms(n: i64) -> time::Duration {
    time::Duration::milliseconds(n)
}

/// Until the guest's token has expired and the grace has passed, the purge leaves it.
#[tokio::test]
async fn a_guest_is_deleted_once_its_token_has_expired_and_not_before() {
    let f = Fixture::with_guests().await;
    let (guest, token) = f.guests.admit(CLIENT).await.unwrap();
    let hour_ms = 60 * 60 * 1000;

    f.clock.advance(ms(hour_ms + GUEST_GRACE_MS - 1));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 0);
    assert!(f.identities.get(guest).await.is_ok());

    f.clock.advance(ms(2));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 1);
    assert!(matches!(
        f.identities.get(guest).await,
        Err(IdentityError::NotFound)
    ));
    assert!(!f.is_active(&token.token));
    // Once gone, nothing is left to purge.
    assert_eq!(f.guests.purge_expired().await.unwrap(), 0);
}

/// A token a backend issues the guest later keeps it until that token expires too.
#[tokio::test]
async fn a_later_token_keeps_the_guest_until_it_expires() {
    let f = Fixture::with_guests().await;
    let (guest, _) = f.guests.admit(CLIENT).await.unwrap();
    f.clock.advance(ms(30 * 60 * 1000));
    let ring = f.keys.ring().load();
    let later = f
        .identities
        .issue(guest, &chat_request(), ring.service_signer())
        .await
        .unwrap();
    f.issue_log.flush(f.store.as_ref()).await.unwrap();

    // Past the admission token's hour and the grace: the later (one-hour) token still lives.
    f.clock.advance(ms(45 * 60 * 1000));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 0);
    assert!(f.is_active(&later.token));

    f.clock.advance(ms(15 * 60 * 1000 + GUEST_GRACE_MS));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 0);
    f.clock.advance(ms(1));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 1);
}

/// Identities that are not guests are never purged, however old their tokens.
#[tokio::test]
async fn other_identities_are_never_purged() {
    let f = Fixture::with_guests().await;
    let ring = f.keys.ring().load();
    let created = f
        .identities
        .create(None, Some(&chat_request()), ring.service_signer())
        .await
        .unwrap();
    f.issue_log.flush(f.store.as_ref()).await.unwrap();
    f.clock.advance(ms(30 * 24 * 60 * 60 * 1000));
    assert_eq!(f.guests.purge_expired().await.unwrap(), 0);
    assert!(f.identities.get(created.identity.id).await.is_ok());
}
