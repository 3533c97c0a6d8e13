//! The `callsign` binary as a separate process over plain HTTP, for multi-instance, crash and
//! log tests. Each one's whole log also goes to a file of the run's (`test_logs.rs`).

use std::io::{LineWriter, Write};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::helpers::{ServerSettings, TestApp, plain_client};
use crate::test_logs::{FULL_LOG, process_log};

/// Starts the binary sharing `dir`, logging warnings only.
pub async fn spawn_process(
    settings: &ServerSettings,
    dir: Arc<tempfile::TempDir>,
    extra: &[&str],
) -> TestApp {
    spawn_process_logging(settings, dir, extra, "warn").await.0
}

/// Starts the binary with `RUST_LOG=<rust_log>` (and Callsign's own debug events); everything
/// it writes (stdout and stderr) is collected in the returned buffer.
pub async fn spawn_process_logging(
    settings: &ServerSettings,
    dir: Arc<tempfile::TempDir>,
    extra: &[&str],
    rust_log: &str,
) -> (TestApp, Arc<Mutex<String>>) {
    let mut args = settings.args();
    args.extend(["--tls", "off"].map(String::from));
    args.extend(extra.iter().map(|arg| arg.to_string()));
    let (child, port, output) = start_binary(&args, &[("RUST_LOG", rust_log)]).await;
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        host: format!("127.0.0.1:{port}"),
        client: plain_client(),
        primary_key: STANDARD.decode(&settings.primary_key).unwrap(),
        secondary_key: STANDARD.decode(&settings.secondary_key).unwrap(),
        settings: settings.clone(),
        connection_string: String::new(),
        trust_file: std::path::PathBuf::new(),
        ops: None,
        stop: None,
        _child: Some(child),
        _dir: Some(dir),
    };
    (app, output)
}

/// Starts the binary with `args` and `env`; returns it, the port it bound, and everything it
/// writes. Whatever `RUST_LOG` asks for, Callsign's own debug events are logged too.
pub async fn start_binary(
    args: &[String],
    env: &[(&str, &str)],
) -> (tokio::process::Child, u16, Arc<Mutex<String>>) {
    let asked = env
        .iter()
        .find(|(name, _)| *name == "RUST_LOG")
        .map_or("warn", |(_, value)| value);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", format!("{asked},{FULL_LOG}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start callsign");
    let output = Output {
        text: Arc::default(),
        file: child
            .id()
            .and_then(process_log)
            .map(|file| Arc::new(Mutex::new(LineWriter::new(file)))),
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("callsign starts within 30 s")
            .unwrap()
            .expect("callsign prints its address");
        output.collect(&line);
        // `… (bound to <address>)`, or with JSON logs `{"address": "<address>", …}`.
        let json_address = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|line| line["address"].as_str().map(str::to_owned));
        let text_address = line
            .split("bound to ")
            .nth(1)
            .map(|bound| bound.trim_end_matches(')').to_owned());
        if let Some(bound) = json_address.or(text_address) {
            break bound.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    // Keep draining both pipes so the child never blocks on a full one.
    drain(lines.into_inner(), output.clone());
    drain(child.stderr.take().unwrap(), output.clone());
    (child, port, output.text)
}

/// Where a process's output goes: the buffer the test reads, and the run's log file.
#[derive(Clone)]
struct Output {
    text: Arc<Mutex<String>>,
    file: Option<Arc<Mutex<LineWriter<std::fs::File>>>>,
}

impl Output {
    fn collect(&self, line: &str) {
        let mut text = self.text.lock().unwrap();
        text.push_str(line);
        text.push('\n');
        if let Some(file) = &self.file {
            let _ = writeln!(file.lock().unwrap(), "{line}");
        }
    }
}

fn drain(pipe: impl AsyncRead + Unpin + Send + 'static, output: Output) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            output.collect(&line);
        }
    });
}

/// Sends `signal` (`TERM`, `HUP`, `KILL`) to the process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`).
#[cfg(target_os = "linux")]
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read /proc/<pid>/status")
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The resident set of process `pid` now, in KiB.
#[cfg(target_os = "linux")]
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// The highest resident set of process `pid` since it started or [`reset_peak_rss`], in KiB.
#[cfg(target_os = "linux")]
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

/// Resets the high-water mark [`peak_rss_kib`] reads to the current resident set.
#[cfg(target_os = "linux")]
pub fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
}
