//! Deployment concerns: secrets read from files as container platforms mount them, generated
//! keys printed only to a terminal (or when asked), never into collected logs, CORS for browser
//! clients, and client addresses behind trusted proxies.

use callsign::config::Cli;
use callsign::keys::KeySlot;
use callsign::startup::Application;
use clap::Parser;
use tokio::io::AsyncBufReadExt;

use crate::helpers::*;

backend_tests!(
    secrets_can_come_from_files,
    browsers_from_configured_origins_pass_cors,
    forwarded_for_counts_only_behind_a_trusted_proxy,
);

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
        let text_with_key =
            extra.contains(&"--print-connection-string") && !extra.contains(&"json");
        if line.contains("access keys generated") && text_with_key {
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

/// With JSON logs every line on standard output is a JSON object, the start lines too, and they
/// name what the service runs with.
#[tokio::test]
async fn in_json_mode_every_start_line_is_json() {
    let printed = first_start_output(&["--log-format", "json"]).await;
    let lines: Vec<serde_json::Value> = printed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let running = lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .unwrap()
                .starts_with("running with")
        })
        .expect("a line saying what it runs with");
    assert_eq!(running["store"], "SQLite");
    assert_eq!(running["tokens"], "HS256");
    assert!(running["timestamp"].is_string());
    assert!(lines.iter().any(|line| line["endpoint"].is_string()));
}

#[tokio::test]
async fn generated_keys_are_not_printed_into_collected_logs() {
    let quiet = first_start_output(&[]).await;
    assert!(quiet.contains("keys --show-secrets list"), "{quiet}");
    assert!(!quiet.contains("accesskey="), "{quiet}");

    let asked = first_start_output(&["--print-connection-string"]).await;
    assert!(asked.contains("accesskey="), "{asked}");
}

async fn browsers_from_configured_origins_pass_cors(app: TestApp) {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/sessions", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let closed = preflight(&app, "https://app.example").await.unwrap();
    assert!(!closed.headers().contains_key("access-control-allow-origin"));

    let app = app
        .restart_with(&[
            "--cors-origins",
            "https://app.example,https://other.example",
        ])
        .await;
    let allowed = preflight(&app, "https://app.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let stranger = preflight(&app, "https://evil.example").await.unwrap();
    assert!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(app: TestApp) {
    let guest = |app: &TestApp, client: &'static str| {
        app.client
            .post(format!("{}/v1/guests", app.base))
            .header("x-forwarded-for", client)
            .send()
    };
    let limited = ["--guests", "on", "--guests-per-minute", "1"];
    // Not behind a trusted proxy: the header is ignored, every request is the socket's peer.
    let app = app.restart_with(&limited).await;
    assert_eq!(guest(&app, "203.0.113.1").await.unwrap().status(), 201);
    assert_eq!(guest(&app, "203.0.113.2").await.unwrap().status(), 429);

    let mut behind_proxy = limited.to_vec();
    behind_proxy.extend(["--trusted-proxies", "127.0.0.0/8"]);
    let app = app.restart_with(&behind_proxy).await;
    assert_eq!(guest(&app, "203.0.113.1").await.unwrap().status(), 201);
    assert_eq!(guest(&app, "203.0.113.2").await.unwrap().status(), 201);
    assert_eq!(guest(&app, "203.0.113.1").await.unwrap().status(), 429);
}

/// Every `CALLSIGN_*` variable the deployment files, the Dockerfile and `.env.example` set is one
/// Callsign reads, so a renamed or misspelt setting cannot hide in them.
#[test]
fn deployment_files_set_only_settings_callsign_reads() {
    use clap::CommandFactory;
    let command = Cli::command();
    let mut known: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    for sub in command.get_subcommands() {
        known.extend(
            sub.get_arguments()
                .filter_map(|arg| arg.get_env())
                .map(|env| env.to_string_lossy().into_owned()),
        );
    }
    assert!(known.iter().any(|name| name == "CALLSIGN_OPS_LISTEN"));
    let root = env!("CARGO_MANIFEST_DIR");
    // Every YAML file under deploy/ (compose, the kustomize base and overlays, the alert
    // rules), the image and the example environment.
    let mut files = vec!["Dockerfile".to_owned(), ".env.example".to_owned()];
    let mut dirs = vec![std::path::Path::new(root).join("deploy")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                let relative = path.strip_prefix(root).unwrap();
                files.push(relative.display().to_string());
            }
        }
    }
    // These set settings: each must be found, and must name at least one.
    let setting_files = [
        "Dockerfile",
        ".env.example",
        "deploy/compose.yaml",
        "deploy/kubernetes/base/kustomization.yaml",
        "deploy/kubernetes/base/deployment.yaml",
        "deploy/kubernetes/overlays/example/kustomization.yaml",
    ];
    for file in setting_files {
        assert!(files.iter().any(|found| found == file), "{file} not found");
    }
    for file in &files {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let mut rest = text.as_str();
        let mut checked = 0;
        while let Some(at) = rest.find("CALLSIGN_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            // Build arguments of the image, not settings.
            if name == "CALLSIGN_GIT_COMMIT" {
                continue;
            }
            assert!(
                known.contains(&name),
                "{file} sets {name}, which Callsign does not read"
            );
            checked += 1;
        }
        assert!(
            checked > 0 || !setting_files.contains(&file.as_str()),
            "{file} names no setting"
        );
    }
}

/// `--help` shows the value an environment variable sets, except for secrets: a database URL
/// with its password, the master keys and the access keys never appear, whichever command's help.
#[test]
fn help_never_prints_a_secret_from_the_environment() {
    let secrets = [
        (
            "DATABASE_URL",
            "postgres://callsign:pw-in-the-help@db.example/callsign",
        ),
        ("CALLSIGN_MASTER_KEY", "master-key-in-the-help"),
        ("CALLSIGN_PREVIOUS_MASTER_KEY", "previous-key-in-the-help"),
        ("CALLSIGN_PRIMARY_KEY", "primary-key-in-the-help"),
        ("CALLSIGN_SECONDARY_KEY", "secondary-key-in-the-help"),
    ];
    for command in [
        &["--help"][..],
        &["serve", "--help"],
        &["keys", "list", "--help"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
            .args(command)
            .envs(secrets)
            .env("CALLSIGN_LISTEN", "127.0.0.1:4321")
            .output()
            .expect("run callsign --help");
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        // Other values are shown: the check would see a secret if one were.
        assert!(
            help.contains("CALLSIGN_LISTEN=127.0.0.1:4321"),
            "{command:?}: {help}"
        );
        for (name, value) in secrets {
            assert!(help.contains(name), "{command:?}: {name} is documented");
            assert!(!help.contains(value), "{command:?}: {name}'s value shown");
            assert!(!help.contains("pw-in-the-help"), "{command:?}");
        }
    }
}
