//! Guessers spraying one account from many addresses (behind a trusted proxy) lock it for
//! wrong guesses, and keep locking it, yet cannot keep its owner out: a correct password from an
//! address the account signed in from still gets in, and so does one from a new address while
//! the account's few checks past its lock last. The guessers get those few checks and nothing
//! more, however many addresses they have. The server's clock stands still, so no lock runs
//! out during the test.

use std::sync::Arc;

use callsign::clock::MockClock;
use serde_json::json;

use crate::app_client::PASSWORD;
use crate::helpers::*;

const WRONG: &str = "not the password";

#[tokio::test]
async fn spraying_guessers_cannot_keep_the_owner_out_sqlite() {
    spraying_guessers_cannot_keep_the_owner_out(Backend::Sqlite).await;
}

#[tokio::test]
async fn spraying_guessers_cannot_keep_the_owner_out_postgres() {
    spraying_guessers_cannot_keep_the_owner_out(Backend::Postgres).await;
}

/// A sign-in to `owner` from `address`; its status.
async fn sign_in_from(app: &TestApp, address: &str, password: &str) -> u16 {
    app.client
        .post(format!("{}/v1/sessions", app.base))
        .header("x-forwarded-for", address)
        .json(&json!({ "username": "owner", "password": password }))
        .send()
        .await
        .expect("sign-in answered")
        .status()
        .as_u16()
}

async fn spraying_guessers_cannot_keep_the_owner_out(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(settings) = ServerSettings::new(backend, dir.path()).await else {
        return;
    };
    let clock = Arc::new(MockClock::new(time::OffsetDateTime::now_utc()));
    let extra = ["--trusted-proxies", "127.0.0.1", "--rate-limits", "off"];
    let app = spawn_app_with_clock(settings, dir, &extra, clock).await;
    assert_eq!(app.create_account("owner", PASSWORD).await.status(), 201);
    // The owner's usual address.
    assert_eq!(sign_in_from(&app, "192.0.2.10", PASSWORD).await, 201);

    // Ten addresses, five wrong guesses each (each address's own lock then holds): fifty
    // failures lock the account everywhere.
    for address in 1..=10 {
        let address = format!("10.1.0.{address}");
        for _ in 0..5 {
            assert_eq!(sign_in_from(&app, &address, WRONG).await, 401);
        }
        assert_eq!(sign_in_from(&app, &address, WRONG).await, 429);
    }
    // The owner from a new address (its travel) has its password checked, and gets in.
    assert_eq!(sign_in_from(&app, "203.0.113.5", PASSWORD).await, 201);

    // Guesses from new addresses are checked (and answered as locked) ten at a time at most;
    // then not even checked: a thousand addresses buy the guessers no more guesses.
    for address in 1..=30 {
        assert_eq!(
            sign_in_from(&app, &format!("10.2.0.{address}"), WRONG).await,
            429
        );
    }
    assert_eq!(
        sign_in_from(&app, "10.3.0.1", PASSWORD).await,
        429,
        "past the allowance a new address is not checked, even with the right password"
    );

    // The owner, from an address the account signed in from, keeps getting in: also after a
    // typo, and behind a NAT a guesser shares.
    assert_eq!(sign_in_from(&app, "192.0.2.10", WRONG).await, 429);
    assert_eq!(sign_in_from(&app, "192.0.2.10", PASSWORD).await, 201);
    assert_eq!(sign_in_from(&app, "203.0.113.5", PASSWORD).await, 201);
    // An address that has guessed wrong is not checked again while the account is locked,
    // whatever it sends.
    assert_eq!(sign_in_from(&app, "10.2.0.1", PASSWORD).await, 429);
}
