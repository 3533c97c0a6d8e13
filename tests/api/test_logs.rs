//! The run's log directory. Every server the tests start writes its whole log there (a process
//! to a file of its own, the servers inside this test binary to one shared file), and every
//! secret the tests handle is recorded beside them: keys, connection strings, passwords, access,
//! refresh and bearer tokens. After the run, `tests/log_check.rs` searches the logs for the
//! secrets (`scripts/test` runs it last).
//!
//! The directory is `$CALLSIGN_TEST_LOG_DIR` (what `scripts/test` sets, emptied first), else
//! `target/test-logs/<start time>-<pid>`, of which the last few runs are kept.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// What the servers log beside the level a test asks for: everything of Callsign's own, and the
/// request and response events of its HTTP stack.
pub const FULL_LOG: &str = "callsign=debug,tower_http=debug";

/// Fields whose string values are secrets, in requests and responses alike.
const SECRET_FIELDS: &[&str] = &[
    "token",
    "accessToken",
    "refreshToken",
    "primaryKey",
    "secondaryKey",
    "primaryConnectionString",
    "secondaryConnectionString",
    "password",
    "access_token",
    "client_secret",
];
/// Shorter values would be found by chance; longer ones are refused before anything logs them.
const RECORDED_LENGTHS: std::ops::RangeInclusive<usize> = 8..=16 * 1024;

/// The run's directory, created on first use.
pub fn run_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("CALLSIGN_TEST_LOG_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => {
                let started = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_secs());
                let root = Path::new(env!("CARGO_TARGET_TMPDIR")).with_file_name("test-logs");
                forget_old_runs(&root);
                root.join(format!("{started}-{}", std::process::id()))
            }
        };
        match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(error) => {
                eprintln!("!!! no test log directory {}: {error} !!!", dir.display());
                None
            }
        }
    })
    .as_deref()
}

/// Removes all but the newest runs under `root` (named `<start time>-<pid>`).
fn forget_old_runs(root: &Path) {
    const KEPT: usize = 3;
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut runs: Vec<(u64, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name();
            let (started, pid) = name.to_str()?.split_once('-')?;
            pid.parse::<u32>().ok()?;
            Some((started.parse().ok()?, entry.path()))
        })
        .collect();
    runs.sort();
    let old = runs.len().saturating_sub(KEPT);
    for (_, run) in runs.drain(..old) {
        let _ = std::fs::remove_dir_all(run);
    }
}

/// A new log file for a server process, named after the test that starts it.
pub fn process_log(pid: u32) -> Option<File> {
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("process")
        .replace("::", ".");
    File::create(run_dir()?.join(format!("{test}.{pid}.log"))).ok()
}

/// Sends the logs of the servers running inside this binary to the run's directory (once).
pub fn capture_in_process_logs() {
    static CAPTURED: OnceLock<()> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let Some(file) = run_dir().and_then(|dir| {
            File::create(dir.join(format!("in-process.{}.log", std::process::id()))).ok()
        }) else {
            return;
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
                "warn,{FULL_LOG}"
            )))
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init();
    });
}

/// Records a secret the tests handled, once.
pub fn record_secret(secret: &str) {
    if !RECORDED_LENGTHS.contains(&secret.len()) {
        return;
    }
    static SEEN: OnceLock<Mutex<(HashSet<String>, Option<File>)>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| {
        let file = run_dir().and_then(|dir| {
            let path = dir.join(format!("recorded-secrets.{}.jsonl", std::process::id()));
            OpenOptions::new().create(true).append(true).open(path).ok()
        });
        Mutex::new((HashSet::new(), file))
    });
    let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (known, file) = &mut *seen;
    if known.insert(secret.to_owned())
        && let Some(file) = file
    {
        // One JSON string a line: a secret may hold any character.
        let _ = writeln!(file, "{}", Value::from(secret));
    }
}

/// Records the secrets a JSON request or response carries.
pub fn record_secrets_in(value: &Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                match field {
                    Value::String(secret) if SECRET_FIELDS.contains(&name.as_str()) => {
                        record_secret(secret);
                    }
                    other => record_secrets_in(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(record_secrets_in),
        _ => {}
    }
}
