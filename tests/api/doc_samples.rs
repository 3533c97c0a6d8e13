//! Every sample the docs mark runnable runs, against one Callsign started for them. A runnable
//! sample is a fenced block whose info string is `sh run`, `python run` or `js run`, in
//! README.md or under docs/. Each runs on its own (a fresh shell or interpreter), with:
//!
//! - `CALLSIGN_CONNECTION_STRING` and `CALLSIGN_URL` naming the server;
//! - `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `CURL_CA_BUNDLE` and `NODE_EXTRA_CA_CERTS` naming its
//!   generated certificate;
//! - `callsign` on `PATH`, with `DATABASE_URL`, `CALLSIGN_DATA_DIR` and `CALLSIGN_MASTER_KEY` set
//!   so the command line acts on the server's store;
//! - Python: the venv with the official SDK; JS: an ES module beside the SDK's `node_modules`.
//!
//! A sample passes when it exits 0 within a minute.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::*;

/// One runnable block.
struct Sample {
    /// `file:line` of its opening fence.
    place: String,
    language: String,
    code: String,
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn samples(root: &Path) -> Vec<Sample> {
    let mut found = Vec::new();
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        // Inside a fence: the runnable sample it opened, or none for any other block.
        let mut fence: Option<Option<Sample>> = None;
        for (number, line) in text.lines().enumerate() {
            let marker = line.trim_start().strip_prefix("```");
            match (&mut fence, marker) {
                (None, Some(info)) => {
                    let language = match info.trim() {
                        "sh run" => Some("sh"),
                        "python run" => Some("python"),
                        "js run" => Some("js"),
                        _ => None,
                    };
                    fence = Some(language.map(|language| Sample {
                        place: format!("{name}:{}", number + 1),
                        language: language.to_owned(),
                        code: String::new(),
                    }));
                }
                (None, None) => {}
                (Some(open), Some(_)) => {
                    found.extend(open.take());
                    fence = None;
                }
                (Some(Some(sample)), None) => {
                    sample.code.push_str(line);
                    sample.code.push('\n');
                }
                (Some(None), None) => {}
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runnable_sample_in_the_docs_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let samples = samples(root);
    assert!(
        samples.len() >= 15,
        "only {} runnable samples found",
        samples.len()
    );
    let (Some(python), Some(node)) = (
        required_env(
            "CALLSIGN_TEST_PYTHON",
            "./scripts/test makes the venv and sets it",
        ),
        required_env(
            "CALLSIGN_TEST_NODE",
            "./scripts/test installs the SDK and sets it",
        ),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let settings = ServerSettings::new(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let app = spawn_app_with(settings.clone(), dir, &["--accounts-registration", "open"]).await;
    let binary = Path::new(env!("CARGO_BIN_EXE_callsign"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Beside the SDK's node_modules, so `import` finds it.
    let js_dir = tempfile::Builder::new()
        .prefix(".doc-samples")
        .tempdir_in(root.join("tests/sdk/js"))
        .unwrap();
    let mut failures = Vec::new();
    for (index, sample) in samples.iter().enumerate() {
        let mut command = match sample.language.as_str() {
            "sh" => {
                let mut command = tokio::process::Command::new("bash");
                command.args(["-euo", "pipefail", "-c", &sample.code]);
                command
            }
            "python" => {
                let mut command = tokio::process::Command::new(&python);
                command.args(["-c", &sample.code]);
                command
            }
            _ => {
                let file = js_dir.path().join(format!("sample{index}.mjs"));
                std::fs::write(&file, &sample.code).unwrap();
                let mut command = tokio::process::Command::new(&node);
                command.arg(file);
                command
            }
        };
        let trust = &app.trust_file;
        command
            .env("PATH", &path)
            .env("CALLSIGN_CONNECTION_STRING", &app.connection_string)
            .env("CALLSIGN_URL", &app.base)
            .env("REQUESTS_CA_BUNDLE", trust)
            .env("SSL_CERT_FILE", trust)
            .env("CURL_CA_BUNDLE", trust)
            .env("NODE_EXTRA_CA_CERTS", trust)
            .env("DATABASE_URL", &settings.database_url)
            .env("CALLSIGN_DATA_DIR", &settings.data_dir)
            .env("CALLSIGN_MASTER_KEY", &settings.master_key)
            .env("RUST_LOG", "warn")
            .current_dir(js_dir.path())
            .kill_on_drop(true);
        let run = tokio::time::timeout(Duration::from_secs(60), command.output()).await;
        match run {
            Ok(Ok(output)) if output.status.success() => {}
            Ok(Ok(output)) => failures.push(format!(
                "{} ({}) exited {}:\n{}{}",
                sample.place,
                sample.language,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )),
            Ok(Err(error)) => failures.push(format!("{}: cannot run: {error}", sample.place)),
            Err(_) => failures.push(format!("{}: still running after 60 s", sample.place)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runnable samples failed:\n\n{}",
        failures.len(),
        samples.len(),
        failures.join("\n\n")
    );
}
