//! Which security events each change sends (the mapping docs/guides/consuming-services.md names), that nothing is
//! lost (a revocation acknowledged just before `kill -9` reaches the receiver after a restart),
//! and the event-signing key's rotation. (Two instances pushing each SET once: in
//! `signal_figures.rs`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app_client::user_path;
use crate::helpers::*;
use crate::process::{signal, spawn_process};
use crate::ssf_receiver::*;

backend_tests!(
    each_change_sends_the_events_the_docs_name,
    revocations_acknowledged_before_a_kill_reach_the_receiver_after_restart,
    the_event_signing_key_rotates_and_the_old_one_stays_published,
);

fn kinds(sets: &[Value]) -> Vec<(String, Value)> {
    sets.iter()
        .map(|set| (event_of(set).0.to_owned(), set["sub_id"].clone()))
        .collect()
}

async fn each_change_sends_the_events_the_docs_name(app: TestApp) {
    let transmitter = Transmitter::discover(&app).await;
    let (stream, poll_path) = transmitter
        .poll_stream(&app, &[SESSION_REVOKED, ACCOUNT_PURGED, CREDENTIAL_CHANGE])
        .await;
    let collect =
        |count| transmitter.collect(&app, &poll_path, &stream, count, Duration::from_secs(10));

    // An app user whose password a backend sets: credential-change about the user (opaque),
    // and its sole identity's tokens die (session-revoked).
    let session = app.new_session("ava").await;
    let user = session["user"]["id"].as_str().unwrap().to_owned();
    let identity = session["user"]["communicationUserId"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = app
        .post(&user_path(&user, "/:setPassword"))
        .json(&json!({"password": "another correct horse battery"}))
        .send()
        .await;
    assert_eq!(set.status(), 204);
    let user_subject = json!({"format": "opaque", "id": user});
    let sets = collect(2).await;
    let got = kinds(&sets);
    assert!(
        got.contains(&(CREDENTIAL_CHANGE.into(), user_subject.clone())),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            SESSION_REVOKED.into(),
            transmitter.identity_subject(&identity)
        )),
        "{got:?}"
    );
    let change = sets
        .iter()
        .find(|s| event_of(s).0 == CREDENTIAL_CHANGE)
        .unwrap();
    let payload = event_of(change).1;
    assert_eq!(payload["credential_type"], "password");
    assert_eq!(payload["change_type"], "update");

    // Signing out everywhere: session-revoked.
    let again = body(app.sign_in("ava", "another correct horse battery").await).await;
    let out = app
        .public_post(
            "/v1/sessions/sign-out-everywhere",
            &json!({ "refreshToken": again["refreshToken"] }),
        )
        .await;
    assert_eq!(out.status(), 204);
    // Its sole identity's tokens are revoked before and after its sessions end (a refresh
    // racing the first cut-off is caught by the second): one or two events, about it only.
    let got = kinds(&collect(1).await);
    let revoked = (
        SESSION_REVOKED.to_owned(),
        transmitter.identity_subject(&identity),
    );
    assert!(
        !got.is_empty() && got.iter().all(|event| *event == revoked),
        "{got:?}"
    );

    // Erasure: the identity's tokens die and it is purged; the user is purged.
    let erased = app
        .signed(Method::DELETE, &user_path(&user, ""))
        .send()
        .await;
    assert_eq!(erased.status(), 204);
    let got = kinds(&collect(3).await);
    for expected in [
        (
            SESSION_REVOKED.to_owned(),
            transmitter.identity_subject(&identity),
        ),
        (
            ACCOUNT_PURGED.to_owned(),
            transmitter.identity_subject(&identity),
        ),
        (ACCOUNT_PURGED.to_owned(), user_subject),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }

    // A regenerated access key: one session-revoked about every token of the deployment.
    run_cli(&app.settings, &["keys", "regenerate", "secondary"]).await;
    let sets = collect(1).await;
    assert_eq!(
        kinds(&sets),
        [(
            SESSION_REVOKED.to_owned(),
            json!({"format": "uri", "uri": transmitter.config["issuer"]})
        )]
    );
    let payload = event_of(&sets[0]).1;
    assert_eq!(payload["initiating_entity"], "admin");
    assert!(
        payload["reason_admin"]["en"]
            .as_str()
            .unwrap()
            .contains("secondary")
    );
    // Nothing more was sent than these.
    assert!(collect(1).await.is_empty());
}

async fn revocations_acknowledged_before_a_kill_reach_the_receiver_after_restart(app: TestApp) {
    let settings = app.settings.clone();
    let dir: Arc<tempfile::TempDir> = app._dir.clone().expect("a data directory");
    drop(app);
    let shared = [
        "--rate-limits",
        "off",
        "--endpoint",
        "https://callsign.test/",
    ];
    let victim = spawn_process(&settings, dir.clone(), &shared).await;
    let transmitter = Transmitter::discover_at(&victim, "https://callsign.test/").await;
    let (stream, poll_path) = transmitter.poll_stream(&victim, &[SESSION_REVOKED]).await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(victim.create_identity().await);
    }
    for id in &ids {
        assert_eq!(victim.revoke(id).await.status(), 204);
    }
    // Killed right after its last answer: whatever its dispatcher had not taken yet is in the
    // outbox, committed.
    signal(victim.pid().expect("a process"), "KILL");
    drop(victim);

    let restarted = spawn_process(&settings, dir, &shared).await;
    let sets = transmitter
        .collect(
            &restarted,
            &poll_path,
            &stream,
            ids.len(),
            Duration::from_secs(15),
        )
        .await;
    let mut per_subject: BTreeMap<String, usize> = BTreeMap::new();
    for set in &sets {
        *per_subject
            .entry(set["sub_id"]["sub"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for id in &ids {
        assert_eq!(per_subject.get(id), Some(&1), "{id}: {per_subject:?}");
    }
    assert_eq!(sets.len(), ids.len());
    println!(
        "figure: kill -9 right after {} acknowledged revocations: {} SETs polled after the \
         restart, none twice",
        ids.len(),
        sets.len()
    );
}

fn kid(set: &str) -> String {
    header_kid(set)
}

async fn the_event_signing_key_rotates_and_the_old_one_stays_published(app: TestApp) {
    // One public endpoint throughout, so the issuer stays across the restart.
    const ENDPOINT: [&str; 2] = ["--endpoint", "https://callsign.test/"];
    let app = app.restart_with(&ENDPOINT).await;
    let before = Transmitter::discover_at(&app, ENDPOINT[1]).await;
    let (stream, poll_path) = before.poll_stream(&app, &[SESSION_REVOKED]).await;
    let old_kid = before.jwks["keys"][0]["kid"].clone();
    let printed = run_cli(&app.settings, &["keys", "rotate-event-signing"]).await;
    assert!(
        printed.contains("security events are signed by key"),
        "{printed}"
    );
    // Instances read the keys again within 10 s; a new instance at once.
    let app = app.restart_with(&ENDPOINT).await;
    let after = Transmitter::discover_at(&app, ENDPOINT[1]).await;
    let kids: Vec<&Value> = after.jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["kid"])
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&&old_kid));
    let id = app.create_identity().await;
    assert_eq!(app.revoke(&id).await.status(), 204);
    let answer = loop {
        let answer = poll(&app, &poll_path, json!({"returnImmediately": false})).await;
        if !answer["sets"].as_object().unwrap().is_empty() {
            break answer;
        }
    };
    let set = answer["sets"].as_object().unwrap().values().next().unwrap();
    let set = set.as_str().unwrap();
    assert_ne!(json!(kid(set)), old_kid, "the new key signs");
    after.verify(set, &stream);
}
