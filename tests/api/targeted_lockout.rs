//! Guessers spraying one account from many addresses (behind a trusted proxy) lock it for
//! wrong guesses, and keep locking it, yet cannot keep its owner out: a correct password from
//! an address with no failures on the account still gets in. The server's clock stands still,
//! so no lock runs out during the test.

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

    // Ten addresses, five wrong guesses each (each address's own lock then holds): fifty
    // failures lock the account everywhere.
    for address in 1..=10 {
        let address = format!("10.1.0.{address}");
        for _ in 0..5 {
            assert_eq!(sign_in_from(&app, &address, WRONG).await, 401);
        }
        assert_eq!(sign_in_from(&app, &address, WRONG).await, 429);
    }
    // A guess from a fresh address is checked, and refused as locked (and counted).
    assert_eq!(sign_in_from(&app, "10.2.0.1", WRONG).await, 429);

    // The owner, from an address with no failures on the account, gets in.
    assert_eq!(sign_in_from(&app, "192.0.2.10", PASSWORD).await, 201);

    // The guessers keep spraying and keep getting nowhere; the owner keeps getting in.
    for address in 2..=20 {
        assert_eq!(
            sign_in_from(&app, &format!("10.2.0.{address}"), WRONG).await,
            429
        );
    }
    // An address that has guessed wrong is not checked again while the account is locked,
    // whatever it sends.
    assert_eq!(sign_in_from(&app, "10.2.0.1", PASSWORD).await, 429);
    assert_eq!(sign_in_from(&app, "192.0.2.10", PASSWORD).await, 201);
    assert_eq!(sign_in_from(&app, "198.51.100.7", PASSWORD).await, 201);
}
