//! The session rules over an in-memory SQLite store and a mock clock: rotation, reuse, idle and
//! absolute lifetimes, signing out.

use super::*;
use crate::testing::{Fixture, REFRESH, chat_request};

fn ms(n: i64) -> time::Duration {
    time::Duration::milliseconds(n)
}

async fn refresh(f: &Fixture, token: &RefreshToken) -> Result<SessionTokens, AppUserError> {
    f.sessions.refresh(token, &chat_request()).await
}

#[tokio::test]
async fn a_refresh_token_idle_for_too_long_expires() {
    let f = Fixture::new().await;
    let user = f.app_user("idle").await;
    let first = f.sessions.sign_in(user, &chat_request()).await.unwrap();

    f.clock.advance(ms(REFRESH.idle_ms - 1));
    let second = refresh(&f, &first.refresh_token).await.unwrap();
    f.clock.advance(ms(REFRESH.idle_ms));
    assert!(matches!(
        refresh(&f, &second.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let f = Fixture::new().await;
    let user = f.app_user("busy").await;
    let mut current = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    let step = REFRESH.idle_ms / 2;
    let mut elapsed = 0;
    while elapsed + step < REFRESH.absolute_ms {
        f.clock.advance(ms(step));
        elapsed += step;
        current = refresh(&f, &current.refresh_token).await.unwrap();
    }
    f.clock.advance(ms(REFRESH.absolute_ms - elapsed));
    assert!(matches!(
        refresh(&f, &current.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn reuse_revokes_the_family_and_the_identitys_tokens() {
    let f = Fixture::new().await;
    let user = f.app_user("victim").await;
    let first = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    f.clock.advance(ms(1));
    let second = refresh(&f, &first.refresh_token).await.unwrap();
    assert!(f.is_active(&second.access_token.token));

    // The thief replays the first token: refused, and everything of the family dies.
    assert!(matches!(
        refresh(&f, &first.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
    assert!(!f.is_active(&second.access_token.token));
    assert!(matches!(
        refresh(&f, &second.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
    // A new sign-in works again, once past the revocation's cut-off.
    f.clock.advance(ms(100));
    let again = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    assert!(f.is_active(&again.access_token.token));
    assert_eq!(again.identity, first.identity);
}

#[tokio::test]
async fn a_spent_token_of_an_ended_session_harms_no_one() {
    let f = Fixture::new().await;
    let user = f.app_user("careful").await;
    let old = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    let rotated = refresh(&f, &old.refresh_token).await.unwrap();
    f.sessions.sign_out(&rotated.refresh_token).await.unwrap();

    f.clock.advance(ms(100));
    let current = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    // Someone replays the long-spent token of the ended session: refused, nothing revoked.
    assert!(matches!(
        refresh(&f, &old.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
    assert!(f.is_active(&current.access_token.token));
    assert!(refresh(&f, &current.refresh_token).await.is_ok());
}

#[tokio::test]
async fn unlinking_the_identity_ends_the_sessions_that_use_it() {
    let f = Fixture::new().await;
    let user = f.app_user("moved").await;
    let session = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    f.users.unlink(user, session.identity).await.unwrap();
    assert!(matches!(
        refresh(&f, &session.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn signing_out_everywhere_spares_identities_shared_with_others() {
    let f = Fixture::new().await;
    let (alice, bob) = (f.app_user("alice").await, f.app_user("bob").await);
    let session = f.sessions.sign_in(alice, &chat_request()).await.unwrap();
    let shared = f.users.create_identity(alice).await.unwrap();
    f.users.link(bob, shared).await.unwrap();
    let (_, bobs) = f
        .users
        .issue(bob, Some(shared), &chat_request())
        .await
        .unwrap();

    f.sessions
        .sign_out_everywhere(&session.refresh_token)
        .await
        .unwrap();
    assert!(!f.is_active(&session.access_token.token));
    assert!(f.is_active(&bobs.token));
}

#[tokio::test]
async fn signing_out_with_a_spent_token_is_reuse() {
    let f = Fixture::new().await;
    let user = f.app_user("replayed").await;
    let first = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    let other = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    let second = refresh(&f, &first.refresh_token).await.unwrap();

    for sign_out in [
        f.sessions.sign_out(&first.refresh_token).await,
        f.sessions.sign_out_everywhere(&first.refresh_token).await,
    ] {
        assert!(matches!(sign_out, Err(AppUserError::InvalidRefreshToken)));
    }
    assert!(!f.is_active(&second.access_token.token));
    for session in [&second, &other] {
        assert!(matches!(
            refresh(&f, &session.refresh_token).await,
            Err(AppUserError::InvalidRefreshToken)
        ));
    }
}

#[tokio::test]
async fn reuse_ends_the_users_sessions_and_spares_a_shared_identitys_tokens() {
    let f = Fixture::new().await;
    let (alice, bob) = (f.app_user("alice").await, f.app_user("bob").await);
    let alices = f.sessions.sign_in(alice, &chat_request()).await.unwrap();
    let own = f.users.create_identity(alice).await.unwrap();
    let (_, own_token) = f
        .users
        .issue(alice, Some(own), &chat_request())
        .await
        .unwrap();
    assert!(f.users.link(bob, alices.identity).await.unwrap());
    let bobs = f.sessions.sign_in(bob, &chat_request()).await.unwrap();
    assert_eq!(bobs.identity, alices.identity);

    let rotated = refresh(&f, &alices.refresh_token).await.unwrap();
    assert!(matches!(
        refresh(&f, &alices.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
    // Alice's sessions end and her own identity's tokens die; the shared one's live on.
    assert!(matches!(
        refresh(&f, &rotated.refresh_token).await,
        Err(AppUserError::InvalidRefreshToken)
    ));
    assert!(!f.is_active(&own_token.token));
    assert!(f.is_active(&bobs.access_token.token));
    assert!(refresh(&f, &bobs.refresh_token).await.is_ok());
}

#[test]
fn refresh_tokens_are_256_bit_and_only_their_shape_is_checked_before_a_lookup() {
    let token = RefreshToken::generate().unwrap();
    let text = token.into_string();
    assert_eq!(text.len(), PREFIX.len() + 43);
    assert!(RefreshToken::presented(text).is_ok());
    assert!(RefreshToken::presented("csr_x".repeat(40)).is_err());
    assert!(RefreshToken::presented("bearer".into()).is_err());
}

#[tokio::test]
async fn with_the_audit_trail_full_a_refresh_fails_without_holding_the_writer() {
    use crate::audit::{AuditEvent, QUEUE_CAPACITY};
    use crate::identity::IdentityError;
    use crate::store::RefreshStore;
    use std::time::Duration;

    let (f, audit_writer) = Fixture::with_audit_writer_stopped().await;
    let user = f.app_user("patient").await;
    let session = f.sessions.sign_in(user, &chat_request()).await.unwrap();
    for _ in 0..QUEUE_CAPACITY {
        f.audit
            .record(AuditEvent::about_app_user(Action::SignedIn, Some(user)));
    }

    // While the refresh waits for room, a write on the store's one connection goes through.
    let write = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = tokio::time::Instant::now();
        f.store
            .revoke_user_families(AppUserId::generate(), 0)
            .await
            .unwrap();
        started.elapsed()
    };
    let (refreshed, write_took) = tokio::join!(refresh(&f, &session.refresh_token), write);
    assert!(
        matches!(
            refreshed,
            Err(AppUserError::Identity(IdentityError::AuditBacklogged(_)))
        ),
        "refused while the trail is full"
    );
    assert!(
        write_took < Duration::from_millis(500),
        "the writer was held for {write_took:?}"
    );

    // Nothing was spent: once the trail drains, the same token refreshes.
    tokio::spawn(audit_writer.run(tokio_util::sync::CancellationToken::new()));
    refresh(&f, &session.refresh_token).await.unwrap();
}
