//! The guest purge's SQL on each store: a guest identity is deleted once its last token (its
//! admission token, or one issued to it later) has expired, and other identities never are.

use std::time::Duration;

use callsign::store::{self, Issued, PoolOptions};
use callsign::vocabulary::IdentityId;

use crate::helpers::*;

backend_tests!(a_guest_is_purged_once_its_last_token_has_expired);

async fn a_guest_is_purged_once_its_last_token_has_expired(app: TestApp) {
    let options = PoolOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
    };
    let store = store::open(&app.settings.database_url, &options)
        .await
        .unwrap();
    // Far ahead of the running server's clock, whose own purge must not take these first.
    const T: i64 = 4_000_000_000_000;
    let (guest, other) = (IdentityId::generate(), IdentityId::generate());
    store.create_guest(guest, T, T + 1_000).await.unwrap();
    store.create_identity(other, None, T).await.unwrap();
    // A token issued to the guest later lives until T + 5 000; the other identity's tokens are
    // old.
    let later = Issued {
        at_ms: T + 500,
        expires_ms: T + 5_000,
    };
    let old = Issued {
        at_ms: T + 1,
        expires_ms: T + 2,
    };
    store
        .record_tokens_issued(&[(guest, later), (other, old)])
        .await
        .unwrap();

    assert_eq!(
        store.purge_guests(T + 5_000, T + 9_000, 10).await.unwrap(),
        []
    );
    assert_eq!(
        store.purge_guests(T + 5_001, T + 9_000, 10).await.unwrap(),
        [guest]
    );
    assert!(store.find_identity(guest).await.unwrap().is_none());
    assert!(store.find_identity(other).await.unwrap().is_some());
    assert_eq!(
        store.purge_guests(i64::MAX, T + 9_000, 10).await.unwrap(),
        []
    );
}
