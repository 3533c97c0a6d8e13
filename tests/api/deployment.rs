//! Deployment concerns: secrets read from files as container platforms mount them, and
//! generated keys printed only to a terminal (or when asked), never into collected logs.

use callsign::config::Cli;
use callsign::keys::KeySlot;
use callsign::startup::Application;
use clap::Parser;
use tokio::io::AsyncBufReadExt;

use crate::helpers::*;

backend_tests!(secrets_can_come_from_files);

async fn secrets_can_come_from_files(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, value: &str| {
        let path = dir.path().join(name);
        // Mounted secrets often end in a newline.
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    let settings = &app.settings;
    let args = [
        "callsign".to_owned(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir.path().join("data").display().to_string(),
        "--database-url-file".into(),
        file("database-url", &settings.database_url),
        "--master-key-file".into(),
        file("master-key", &settings.master_key),
        "--primary-key-file".into(),
        file("primary-key", &settings.primary_key),
        "--secondary-key-file".into(),
        file("secondary-key", &settings.secondary_key),
    ];
    let cli = Cli::try_parse_from(&args).expect("valid arguments");
    let second = Application::build(&cli.config)
        .await
        .expect("builds from files");
    // The same database and master key as the running instance: its stored keys open.
    assert!(
        second
            .connection_string(KeySlot::Primary)
            .ends_with(&format!("accesskey={}", settings.primary_key))
    );

    let both = Cli::try_parse_from([
        "callsign",
        "--master-key",
        &settings.master_key,
        "--master-key-file",
        "/run/secrets/master-key",
    ]);
    assert!(both.is_err(), "a value and its file together are refused");
}

/// Starts the binary on a fresh SQLite directory with standard output piped (not a terminal)
/// and returns what it printed up to its listening line.
async fn first_start_output(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(["--listen", "127.0.0.1:0", "--tls", "off", "--data-dir"])
        .arg(dir.path())
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start callsign");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("callsign starts within 30 s")
    {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("access keys generated") && !extra.is_empty() {
            // The connection string follows on the next line.
            if let Ok(Some(next)) = lines.next_line().await {
                printed.push_str(&next);
            }
            break;
        }
        if line.contains("access keys generated") {
            break;
        }
    }
    printed
}

#[tokio::test]
async fn generated_keys_are_not_printed_into_collected_logs() {
    let quiet = first_start_output(&[]).await;
    assert!(quiet.contains("keys list"), "{quiet}");
    assert!(!quiet.contains("accesskey="), "{quiet}");

    let asked = first_start_output(&["--print-connection-string"]).await;
    assert!(asked.contains("accesskey="), "{asked}");
}
