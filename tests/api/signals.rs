//! The Shared Signals transmitter, tried by a receiver written from the specs alone
//! (`ssf_receiver.rs`): discovery, stream management, verification, subjects, pause and enable,
//! push with retries, poll with acknowledgements and long polling.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::acs_client::identity_path;
use crate::helpers::*;
use crate::ssf_receiver::*;

backend_tests!(
    a_push_receiver_hears_of_each_revocation_as_the_specs_describe,
    a_poll_receiver_gets_each_set_until_it_acknowledges_it,
    a_receiver_that_fails_gets_its_sets_once_it_recovers,
);

async fn a_push_receiver_hears_of_each_revocation_as_the_specs_describe(app: TestApp) {
    let transmitter = Transmitter::discover(&app).await;
    let streams = transmitter.path(&app, "configuration_endpoint");
    let mut receiver = Receiver::start(0).await;

    // SSF §8.1.1.1: create a push stream.
    let requested = json!([SESSION_REVOKED, ACCOUNT_PURGED, "urn:example:unknown"]);
    let created = send_json(
        &app,
        Method::POST,
        &streams,
        &json!({
            "events_requested": requested,
            "delivery": {"method": PUSH, "endpoint_url": receiver.url,
                         "authorization_header": RECEIVER_SECRET},
            "description": "chat server",
        }),
    )
    .await;
    assert_eq!(created.status(), 201);
    let stream = body(created).await;
    let stream_id = stream["stream_id"].as_str().unwrap().to_owned();
    assert_eq!(stream["iss"], transmitter.config["issuer"]);
    assert_eq!(
        stream["events_delivered"],
        json!([SESSION_REVOKED, ACCOUNT_PURGED])
    );
    assert_eq!(stream["delivery"]["method"], PUSH);
    assert_eq!(stream["delivery"]["endpoint_url"], receiver.url.as_str());
    assert!(stream["delivery"].get("authorization_header").is_none());
    assert!(stream["aud"].is_string());

    // SSF §8.1.4.2: verification, echoing state.
    let verify = transmitter.path(&app, "verification_endpoint");
    let verified = send_json(
        &app,
        Method::POST,
        &verify,
        &json!({"stream_id": stream_id, "state": "c3RhdGU"}),
    )
    .await;
    assert_eq!(verified.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(set["sub_id"], json!({"format": "opaque", "id": stream_id}));
    assert_eq!(event_of(&set), (VERIFICATION, &json!({"state": "c3RhdGU"})));

    // CAEP session-revoked for a revocation, naming the tokens' iss and sub.
    let id = app.create_identity().await;
    let answered = Instant::now();
    assert_eq!(app.revoke(&id).await.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    let arrived = answered.elapsed();
    assert_eq!(set["sub_id"], identity_subject(&app, &id));
    let (kind, payload) = event_of(&set);
    assert_eq!(kind, SESSION_REVOKED);
    assert!(payload["event_timestamp"].as_i64().unwrap() > 1_700_000_000);
    assert!(arrived < Duration::from_secs(2), "{arrived:?}");
    let token = app.token_for(&id).await;
    assert_eq!(claims(&token)["sub"], set["sub_id"]["sub"]);
    assert_eq!(claims(&token)["iss"], set["sub_id"]["iss"]);

    // Deletion: session-revoked, then RISC account-purged, sharing a txn.
    let deleted = app
        .signed(Method::DELETE, &identity_path(&id, ""))
        .send()
        .await;
    assert_eq!(deleted.status(), 204);
    let first = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    let second = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(event_of(&first).0, SESSION_REVOKED);
    assert_eq!(event_of(&second), (ACCOUNT_PURGED, &json!({})));
    assert_eq!(first["txn"], second["txn"]);
    assert_ne!(first["jti"], second["jti"]);
    assert_eq!(second["sub_id"], identity_subject(&app, &id));

    // SSF §8.1.3.3: a removed subject's events stop; the others' go on.
    let removed = app.create_identity().await;
    let kept = app.create_identity().await;
    let remove = transmitter.path(&app, "remove_subject_endpoint");
    let answer = send_json(
        &app,
        Method::POST,
        &remove,
        &json!({"stream_id": stream_id, "subject": identity_subject(&app, &removed)}),
    )
    .await;
    assert_eq!(answer.status(), 204);
    assert_eq!(app.revoke(&removed).await.status(), 204);
    assert_eq!(app.revoke(&kept).await.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(set["sub_id"], identity_subject(&app, &kept));
    // Added back, it is carried again.
    let add = transmitter.path(&app, "add_subject_endpoint");
    let answer = send_json(
        &app,
        Method::POST,
        &add,
        &json!({"stream_id": stream_id, "subject": identity_subject(&app, &removed)}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(app.revoke(&removed).await.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(set["sub_id"], identity_subject(&app, &removed));
    let malformed = send_json(
        &app,
        Method::POST,
        &add,
        &json!({"stream_id": stream_id, "subject": {"format": "email", "email": "a@b.c"}}),
    )
    .await;
    assert_error(malformed, 400, "InvalidStreamRequest").await;

    // SSF §8.1.2: paused, events are held; enabled, they are sent.
    let status_path = transmitter.path(&app, "status_endpoint");
    let paused = send_json(
        &app,
        Method::POST,
        &status_path,
        // Control characters are dropped (PostgreSQL stores no NUL in text).
        &json!({"stream_id": stream_id, "status": "paused", "reason": "main\u{0}tenance\n"}),
    )
    .await;
    assert_eq!(paused.status(), 200);
    assert_eq!(body(paused).await["status"], "paused");
    let read = app
        .signed(Method::GET, &format!("{status_path}?stream_id={stream_id}"))
        .send()
        .await;
    assert_eq!(
        body(read).await,
        json!({"stream_id": stream_id, "status": "paused", "reason": "maintenance"})
    );
    let held = app.create_identity().await;
    assert_eq!(app.revoke(&held).await.status(), 204);
    receiver.nothing_for(Duration::from_millis(700)).await;
    let enabled = send_json(
        &app,
        Method::POST,
        &status_path,
        &json!({"stream_id": stream_id, "status": "enabled"}),
    )
    .await;
    assert_eq!(enabled.status(), 200);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(10)).await, &stream);
    assert_eq!(set["sub_id"], identity_subject(&app, &held));

    // SSF §8.1.1.2-4: read, update; transmitter-supplied properties cannot change.
    let listed = body(app.signed(Method::GET, &streams).send().await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let one = body(
        app.signed(Method::GET, &format!("{streams}?stream_id={stream_id}"))
            .send()
            .await,
    )
    .await;
    assert_eq!(one, stream);
    let patched = send_json(
        &app,
        Method::PATCH,
        &streams,
        &json!({"stream_id": stream_id, "description": "calls", "aud": stream["aud"]}),
    )
    .await;
    assert_eq!(patched.status(), 200);
    let patched = body(patched).await;
    assert_eq!(patched["description"], "calls");
    assert_eq!(patched["delivery"], stream["delivery"]);
    let moved = send_json(
        &app,
        Method::PATCH,
        &streams,
        &json!({"stream_id": stream_id, "aud": "https://elsewhere.example/"}),
    )
    .await;
    assert_error(moved, 400, "InvalidStreamRequest").await;
    let unknown = app
        .signed(Method::GET, &format!("{streams}?stream_id=nope"))
        .send()
        .await;
    assert_error(unknown, 404, "StreamNotFound").await;

    // Discovery and the JWKS are public; the management endpoints are not.
    let anonymous = app
        .client
        .get(format!("{}{streams}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // SSF §8.1.1.5: deleted, and gone.
    let gone = app
        .signed(Method::DELETE, &format!("{streams}?stream_id={stream_id}"))
        .send()
        .await;
    assert_eq!(gone.status(), 204);
    let read = app
        .signed(Method::GET, &format!("{streams}?stream_id={stream_id}"))
        .send()
        .await;
    assert_error(read, 404, "StreamNotFound").await;
    let after = app.create_identity().await;
    assert_eq!(app.revoke(&after).await.status(), 204);
    receiver.nothing_for(Duration::from_millis(300)).await;

    // Every change to the stream is in the audit trail.
    for action in [
        "stream.created",
        "stream.subjectRemoved",
        "stream.subjectAdded",
        "stream.statusChanged",
        "stream.updated",
        "stream.deleted",
    ] {
        let events = app.audit_events(&format!("action={action}"), 1).await;
        assert!(
            events[0]["details"]["streamId"] == stream_id.as_str(),
            "{action}: {events:?}"
        );
    }
}

async fn a_poll_receiver_gets_each_set_until_it_acknowledges_it(app: TestApp) {
    let transmitter = Transmitter::discover(&app).await;
    let streams = transmitter.path(&app, "configuration_endpoint");
    // No delivery: poll (SSF §8.1.1.1), at a URL the transmitter gives.
    let created = send_json(
        &app,
        Method::POST,
        &streams,
        &json!({"events_requested": [SESSION_REVOKED, CREDENTIAL_CHANGE]}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let stream = body(created).await;
    assert_eq!(stream["delivery"]["method"], POLL);
    let poll_path = stream["delivery"]["endpoint_url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned();

    let empty = poll(&app, &poll_path, json!({"returnImmediately": true})).await;
    assert_eq!(empty, json!({"sets": {}}));

    let first = app.create_identity().await;
    let second = app.create_identity().await;
    for id in [&first, &second] {
        assert_eq!(app.revoke(id).await.status(), 204);
    }
    // The events are queued once the dispatcher has drained: poll until they are.
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        let answer = poll(
            &app,
            &poll_path,
            json!({"returnImmediately": true, "maxEvents": 1}),
        )
        .await;
        if answer["moreAvailable"] == true || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sets = answer["sets"].as_object().unwrap();
    assert_eq!(sets.len(), 1, "{answer}");
    let (jti, set) = sets.iter().next().unwrap();
    let claims = transmitter.verify(set.as_str().unwrap(), &stream);
    assert_eq!(&claims["jti"], jti);
    assert_eq!(claims["sub_id"], identity_subject(&app, &first));

    // Not acknowledged: it comes back.
    let again = poll(
        &app,
        &poll_path,
        json!({"returnImmediately": true, "maxEvents": 1}),
    )
    .await;
    assert!(again["sets"].get(jti).is_some(), "{again}");
    // Acknowledged (and the other reported as refused): both are gone.
    let both = poll(&app, &poll_path, json!({"returnImmediately": true})).await;
    let jtis: Vec<String> = both["sets"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(jtis.len(), 2, "{both}");
    let other = jtis.iter().find(|j| *j != jti).unwrap();
    let acknowledged = poll(
        &app,
        &poll_path,
        json!({"maxEvents": 0, "ack": [jti],
               "setErrs": {other: {"err": "invalid_request", "description": "test"}}}),
    )
    .await;
    assert_eq!(acknowledged, json!({"sets": {}}));
    let drained = poll(&app, &poll_path, json!({"returnImmediately": true})).await;
    assert_eq!(drained, json!({"sets": {}}));

    // A long poll waits for the next event and answers as soon as it is queued.
    let third = app.create_identity().await;
    let app_for_revoke = app.with_client(app.client.clone());
    let revoking = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app_for_revoke.revoke(&third).await.status(), 204);
        third
    });
    let started = Instant::now();
    let waited = poll(&app, &poll_path, json!({"maxEvents": 10})).await;
    let third = revoking.await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let sets = waited["sets"].as_object().unwrap();
    assert_eq!(sets.len(), 1, "{waited}");
    let claims = transmitter.verify(sets.values().next().unwrap().as_str().unwrap(), &stream);
    assert_eq!(claims["sub_id"], identity_subject(&app, &third));

    // Malformed polls are refused.
    let bad = send_json(
        &app,
        Method::POST,
        &poll_path,
        &json!({"ack": "not-a-list"}),
    )
    .await;
    assert_eq!(bad.status(), 400);
}

async fn a_receiver_that_fails_gets_its_sets_once_it_recovers(app: TestApp) {
    let transmitter = Transmitter::discover(&app).await;
    let streams = transmitter.path(&app, "configuration_endpoint");
    // The first three pushes fail with 500; retries back off (about 1, 2, 4 s).
    let mut receiver = Receiver::start(3).await;
    let created = send_json(
        &app,
        Method::POST,
        &streams,
        &json!({
            "events_requested": [SESSION_REVOKED],
            "delivery": {"method": PUSH, "endpoint_url": receiver.url,
                         "authorization_header": RECEIVER_SECRET},
        }),
    )
    .await;
    let stream = body(created).await;
    let id = app.create_identity().await;
    assert_eq!(app.revoke(&id).await.status(), 204);
    let set = transmitter.verify(&receiver.next(Duration::from_secs(20)).await, &stream);
    assert_eq!(set["sub_id"], identity_subject(&app, &id));
    // Delivered once: no copy follows.
    receiver.nothing_for(Duration::from_millis(500)).await;
    // A stream to an address nobody listens on says its deliveries fail.
    let dead = send_json(
        &app,
        Method::POST,
        &streams,
        &json!({
            "events_requested": [SESSION_REVOKED],
            "delivery": {"method": PUSH, "endpoint_url": "http://127.0.0.1:9/events"},
        }),
    )
    .await;
    let dead_id = body(dead).await["stream_id"].as_str().unwrap().to_owned();
    let other = app.create_identity().await;
    assert_eq!(app.revoke(&other).await.status(), 204);
    let status_path = transmitter.path(&app, "status_endpoint");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = body(
            app.signed(Method::GET, &format!("{status_path}?stream_id={dead_id}"))
                .send()
                .await,
        )
        .await;
        if status["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("failed since"))
        {
            assert_eq!(status["status"], "enabled");
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
