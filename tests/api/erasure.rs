//! What erasure leaves behind: no client address of the erased user in the audit trail, even on
//! rows about an identity it shared with another user; and, on SQLite, none of its username or
//! password hash anywhere in the database file or its write-ahead log.

use reqwest::Method;
use serde_json::json;

use crate::app_client::*;
use crate::helpers::*;

/// Where the erased user's requests come from (behind the trusted proxy).
const ALICES_ADDRESS: &str = "203.0.113.9";

#[tokio::test]
async fn erasure_scrubs_the_users_address_from_rows_about_shared_identities_sqlite() {
    erasure_scrubs_the_users_address_from_rows_about_shared_identities(Backend::Sqlite).await;
}

#[tokio::test]
async fn erasure_scrubs_the_users_address_from_rows_about_shared_identities_postgres() {
    erasure_scrubs_the_users_address_from_rows_about_shared_identities(Backend::Postgres).await;
}

async fn erasure_scrubs_the_users_address_from_rows_about_shared_identities(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(settings) = ServerSettings::new(backend, dir.path()).await else {
        return;
    };
    let app = spawn_app_with(settings, dir, &["--trusted-proxies", "127.0.0.1"]).await;
    // Bob's identity is Alice's too, and the one her sessions are for.
    let bob = app.new_session("bob").await;
    let shared = bob["user"]["communicationUserId"].as_str().unwrap();
    let alice = body(app.create_account("alice", PASSWORD).await).await;
    let alice = alice["id"].as_str().unwrap();
    let linking = user_path(alice, &format!("/identities/{}", encoded(shared)));
    assert_eq!(app.post(&linking).send().await.status(), 201);

    // Alice signs in and refreshes from her address: tokens for the shared identity.
    let from_alice = |path: &str, body: serde_json::Value| {
        app.client
            .post(format!("{}{path}", app.base))
            .header("x-forwarded-for", ALICES_ADDRESS)
            .json(&body)
            .send()
    };
    let session = from_alice(
        "/v1/sessions",
        json!({ "username": "alice", "password": PASSWORD }),
    )
    .await
    .unwrap();
    assert_eq!(session.status(), 201);
    let session = body(session).await;
    assert_eq!(session["user"]["communicationUserId"], shared);
    let refreshed = from_alice(
        "/v1/sessions/refresh",
        json!({ "refreshToken": session["refreshToken"] }),
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 200);
    let issued = app
        .audit_events(
            &format!("identity={}&action=token.issued", encoded(shared)),
            3,
        )
        .await;
    assert!(
        issued
            .iter()
            .any(|event| event["clientAddress"] == ALICES_ADDRESS)
    );

    let erased = app
        .signed(Method::DELETE, &user_path(alice, ""))
        .send()
        .await;
    assert_eq!(erased.status(), 204);
    app.audit_events("action=appUser.erased", 1).await;
    let everything = app.audit("maxPageSize=1000").await;
    assert!(
        !everything.to_string().contains(ALICES_ADDRESS),
        "{everything}"
    );
    // Bob's own rows keep theirs.
    let bobs = app
        .audit_events(
            &format!("appUser={}", bob["user"]["id"].as_str().unwrap()),
            1,
        )
        .await;
    assert!(
        bobs.iter()
            .all(|event| event["clientAddress"] == "127.0.0.1")
    );
}

#[tokio::test]
async fn an_erased_username_and_hash_are_nowhere_in_the_sqlite_files() {
    use sqlx::Connection;
    let username = "zanzibar-quokka-4471";
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let session = app.new_session(username).await;
    let user = session["user"]["id"].as_str().unwrap();
    let url = app.settings.database_url.clone();
    let hash: String = on_store!(&url, |db| sqlx::query_scalar(
        "SELECT password_hash FROM app_users WHERE username = $1"
    )
    .bind(username)
    .fetch_one(&mut db)
    .await
    .unwrap());
    let files = |suffix: &str| app.settings.data_dir.join(format!("callsign.db{suffix}"));
    let stored = || -> Vec<u8> {
        ["", "-wal"]
            .iter()
            .flat_map(|suffix| std::fs::read(files(suffix)).unwrap_or_default())
            .collect()
    };
    let holds = |bytes: &[u8], what: &str| bytes.windows(what.len()).any(|w| w == what.as_bytes());
    assert!(
        holds(&stored(), username),
        "the test looks in the right files"
    );

    let erased = app
        .signed(Method::DELETE, &user_path(user, ""))
        .send()
        .await;
    assert_eq!(erased.status(), 204);
    let bytes = stored();
    assert!(!holds(&bytes, username), "the username is still on disk");
    assert!(!holds(&bytes, &hash), "the password hash is still on disk");
}
