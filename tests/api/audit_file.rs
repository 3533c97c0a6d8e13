//! The audit trail written to a file of JSON lines instead of the database: every event, the
//! identity as its raw id, durable before the token it records is handed out; a renamed
//! (rotated) file is followed by a new one; the database keeps none, and the API says where
//! the trail is instead of listing nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::*;

backend_tests!(the_trail_goes_to_the_file_and_not_the_database);

/// The file's events once it has at least `count`.
async fn lines(path: &Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let events: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        if events.len() >= count {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} events in {path:?}, got {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_trail_goes_to_the_file_and_not_the_database(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let app = app
        .restart_with(&["--audit-file", path.to_str().unwrap()])
        .await;
    let id = app.create_identity().await;
    let response = app
        .issue(&id, json!({"scopes": ["chat"], "expiresInMinutes": 60}))
        .await;
    assert_eq!(response.status(), 200);
    let events = lines(&path, 2).await;
    let issued = events
        .iter()
        .find(|event| event["action"] == "token.issued")
        .expect("the token's event");
    assert_eq!(issued["identity"], id);
    assert_eq!(issued["actor"], "accessKey:primary");
    assert_eq!(
        issued["details"],
        json!({"scopes": ["chat"], "expiresInMinutes": 60})
    );
    assert!(issued["at"].as_str().unwrap().ends_with('Z'), "{issued}");
    assert!(issued["requestId"].is_string(), "{issued}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Rotated by renaming: the next batch starts a new file.
    std::fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
    assert_eq!(app.revoke(&id).await.status(), 204);
    let rotated = lines(&path, 1).await;
    assert_eq!(rotated[0]["action"], "tokens.revoked");

    // The database holds none of it, and the API says where the trail is.
    let listed = app.signed(Method::GET, "/v1/audit-events").send().await;
    let message = assert_error(listed, 404, "AuditTrailElsewhere").await;
    assert!(message.contains("CALLSIGN_AUDIT_FILE"), "{message}");
    let url = app.settings.database_url.clone();
    let stored: i64 = on_store!(&url, |db| {
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'token.issued'")
            .fetch_one(&mut db)
            .await
            .unwrap()
    });
    assert_eq!(stored, 0);
}
