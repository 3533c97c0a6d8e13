//! The transmitter's use cases over in-memory SQLite and a mock clock.

use serde_json::json;

use super::SignalError;
use super::stream::StreamRequest;
use crate::testing::Fixture;

fn request(value: serde_json::Value) -> StreamRequest {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_stream_is_found_by_its_owner_only_and_updates_keep_it() {
    let f = Fixture::new().await;
    let t = &f.transmitter;
    let created = t
        .create(
            "access-key",
            &request(json!({"description": null, "events_requested": null, "delivery": null})),
        )
        .await
        .unwrap();
    let id = created.config["stream_id"].as_str().unwrap().to_owned();
    assert!(matches!(
        t.get("client:other", &id).await,
        Err(SignalError::NotFound)
    ));
    let refused = t
        .update(
            "access-key",
            &request(json!({"stream_id": id, "delivery": {"method": "urn:ietf:rfc:8935"}})),
            false,
        )
        .await;
    assert!(
        matches!(refused, Err(SignalError::Invalid(_))),
        "{refused:?}"
    );
    let updated = t
        .update(
            "access-key",
            &request(json!({"stream_id": id, "description": "chat"})),
            false,
        )
        .await
        .unwrap();
    assert_eq!(updated.config["description"], "chat");
    assert_eq!(updated.config["aud"], created.config["aud"]);
    // Ids that cannot be Callsign's are not looked up.
    for odd in ["", "x", "\u{0}", &"a".repeat(10_000)] {
        assert!(matches!(
            t.get("access-key", odd).await,
            Err(SignalError::NotFound)
        ));
        assert!(matches!(
            t.delete("access-key", odd).await,
            Err(SignalError::NotFound)
        ));
    }
    t.delete("access-key", &id).await.unwrap();
    assert!(matches!(
        t.get("access-key", &id).await,
        Err(SignalError::NotFound)
    ));
}
