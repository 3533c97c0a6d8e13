//! `callsign users …`: an operator finds app users and acts on them from the command line, on
//! the database a running instance serves; the instance honours it within a second.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::app_client::PASSWORD;
use crate::helpers::*;

backend_tests!(an_operator_finds_disables_enables_and_resets_users_from_the_command_line);

const NEW_PASSWORD: &str = "glass-kayak-88";

/// What a command printed, without the log lines that go to the same output.
fn printed(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|line| !line.contains(" INFO ") && !line.contains(" WARN "))
        .map(str::to_owned)
        .collect()
}

/// `callsign users set-password <user>`, the password on standard input.
async fn set_password(settings: &ServerSettings, user: &str, password: &str) -> String {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(settings.args())
        .args(["users", "set-password", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn an_operator_finds_disables_enables_and_resets_users_from_the_command_line(app: TestApp) {
    let session = app.new_session("kim").await;
    app.new_session("lee").await;
    let user = session["user"]["id"].as_str().unwrap();
    let token = session["accessToken"]["token"].as_str().unwrap();

    let listed = run_cli(&app.settings, &["users", "list", "--username-prefix", "KI"]).await;
    assert_eq!(printed(&listed), [format!("{user} account kim")]);

    // One session ended by its id, from the list of the user's sessions.
    let other = body(app.sign_in("kim", PASSWORD).await).await;
    crate::test_logs::record_secrets_in(&other);
    let sessions = printed(&run_cli(&app.settings, &["users", "sessions", user]).await);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|line| line.contains("from 127.0.0.1")));
    let ended = sessions[0].split(' ').next().unwrap().to_owned();
    run_cli(&app.settings, &["users", "end-session", user, &ended]).await;
    // Exactly one of the two sessions ended.
    let mut statuses = Vec::new();
    for session in [&session, &other] {
        let refresh_token = session["refreshToken"].as_str().unwrap();
        statuses.push(app.refresh(refresh_token).await.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
    assert_eq!(
        printed(&run_cli(&app.settings, &["users", "sessions", user]).await).len(),
        1
    );

    run_cli(&app.settings, &["users", "disable", user]).await;
    assert_error(app.sign_in("kim", PASSWORD).await, 403, "UserDisabled").await;
    let since = Instant::now();
    while app.is_active(token).await {
        assert!(since.elapsed() < Duration::from_secs(3), "never revoked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = run_cli(
        &app.settings,
        &["users", "list", "--username-prefix", "kim"],
    )
    .await;
    assert!(listed.contains("(disabled)"), "{listed}");
    run_cli(&app.settings, &["users", "enable", user]).await;

    set_password(&app.settings, user, NEW_PASSWORD).await;
    assert_error(
        app.sign_in("kim", PASSWORD).await,
        401,
        "InvalidCredentials",
    )
    .await;
    assert_eq!(app.sign_in("kim", NEW_PASSWORD).await.status(), 201);

    let reset = run_cli(&app.settings, &["users", "reset-token", user]).await;
    let reset = printed(&reset).pop().unwrap_or_default();
    let reset = reset.as_str();
    crate::test_logs::record_secret(reset);
    assert!(reset.starts_with("csp_"), "{reset}");

    let events = app
        .audit_events(&format!("appUser={user}&action=appUser.disabled"), 1)
        .await;
    assert_eq!(events[0]["actor"], "operator");
}
