//! Usernames that only look alike (Cyrillic `асе`, Latin `ace`; `rn` and `m`) are one name: the
//! second is refused like a duplicate, and signing in by one never opens the other's account.

use sqlx::Connection;

use crate::app_client::*;
use crate::helpers::*;

backend_tests!(
    a_name_that_only_looks_like_a_taken_one_is_taken,
    accounts_from_before_skeletons_are_compared_too,
);

async fn a_name_that_only_looks_like_a_taken_one_is_taken(app: TestApp) {
    app.new_session("ace").await;
    let cyrillic = app.create_account("асе", PASSWORD).await;
    assert_error(cyrillic, 409, "UsernameTaken").await;
    let refused = app.sign_in("асе", PASSWORD).await;
    assert_error(refused, 401, "InvalidCredentials").await;

    assert_eq!(app.create_account("сор", PASSWORD).await.status(), 201);
    assert_error(
        app.create_account("cop", PASSWORD).await,
        409,
        "UsernameTaken",
    )
    .await;
    assert_eq!(app.create_account("modern", PASSWORD).await.status(), 201);
    assert_error(
        app.create_account("rnodern", PASSWORD).await,
        409,
        "UsernameTaken",
    )
    .await;
    // Names that merely share letters are not alike.
    assert_eq!(app.create_account("aces", PASSWORD).await.status(), 201);
}

async fn accounts_from_before_skeletons_are_compared_too(app: TestApp) {
    // An account stored by an earlier version, without a skeleton.
    let url = app.settings.database_url.clone();
    on_store!(&url, |db| sqlx::query(
        "INSERT INTO app_users (id, username, password_hash, created_at_ms) \
         VALUES ('0b7a4f8e-5d7c-4f0e-9a57-3c1d2e4f6a81', 'ace', 'x', 0)"
    )
    .execute(&mut db)
    .await
    .unwrap()
    .rows_affected());
    let cyrillic = app.create_account("асе", PASSWORD).await;
    assert_error(cyrillic, 409, "UsernameTaken").await;
}
