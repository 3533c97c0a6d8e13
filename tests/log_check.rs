//! After the whole test run: no secret the tests handled, and nothing shaped like one (a JWT, an
//! HMAC `Signature=`, a refresh token), is in any log a server of the run wrote.
//!
//! `tests/api/test_logs.rs` fills the run's directory: the servers' logs (`*.log`) and the
//! secrets the tests saw (`recorded-secrets.*.jsonl`). The check itself is ignored in an ordinary
//! `cargo test`, which may still be writing them; `scripts/test` runs it last:
//!
//! ```sh
//! cargo test --test log_check -- --ignored   # $CALLSIGN_TEST_LOG_DIR, else the newest run
//! ```
//!
//! A finding names the file and line and shows only the first characters of what leaked.

#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use aho_corasick::AhoCorasick;

/// Something that should not be in a log, and where it is.
#[derive(Debug, PartialEq, Eq)]
struct Finding {
    file: PathBuf,
    line: usize,
    what: &'static str,
    /// The start of it, never the whole.
    excerpt: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.file_name().unwrap_or_default().to_string_lossy();
        write!(f, "{file}:{}: {} ({})", self.line, self.what, self.excerpt)
    }
}

/// What a scan read.
#[derive(Debug, Default)]
struct Scanned {
    files: usize,
    bytes: usize,
    secrets: usize,
}

/// Scans every log of `dir` for every secret recorded there, and for secret shapes.
fn scan(dir: &Path) -> std::io::Result<(Vec<Finding>, Scanned)> {
    let mut logs = Vec::new();
    let mut secrets = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".log") {
            logs.push(path);
        } else if name.starts_with("recorded-secrets.") && name.ends_with(".jsonl") {
            secrets.extend(recorded_secrets(&std::fs::read_to_string(&path)?));
        }
    }
    secrets.sort();
    secrets.dedup();
    let searcher = AhoCorasick::new(&secrets).map_err(std::io::Error::other)?;
    let mut scanned = Scanned {
        secrets: secrets.len(),
        ..Scanned::default()
    };
    let mut findings = Vec::new();
    logs.sort();
    for path in logs {
        let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
        scanned.files += 1;
        scanned.bytes += text.len();
        let at = |offset: usize, what, shown: &str| Finding {
            file: path.clone(),
            line: 1 + text[..offset].matches('\n').count(),
            what,
            excerpt: mask(shown),
        };
        for found in searcher.find_iter(&text) {
            let secret = &secrets[found.pattern().as_usize()];
            findings.push(at(found.start(), "a secret the tests handled", secret));
        }
        for (offset, what, shape) in shapes(&text) {
            findings.push(at(offset, what, shape));
        }
    }
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok((findings, scanned))
}

/// The secrets of a `recorded-secrets.*.jsonl` file (one JSON string a line), and the signature of each
/// JWT among them on its own: it is what forges, and could be logged without the rest.
fn recorded_secrets(jsonl: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    for line in jsonl.lines() {
        let Ok(secret) = serde_json::from_str::<String>(line) else {
            continue;
        };
        if secret.starts_with("eyJ")
            && let Some(signature) = secret.rsplit('.').next().filter(|s| s.len() >= 16)
        {
            secrets.push(signature.to_owned());
        }
        secrets.push(secret);
    }
    secrets
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// How many base64url characters `text` starts with.
fn base64url_run(text: &[u8]) -> usize {
    text.iter().take_while(|&&b| is_base64url(b)).count()
}

/// Secret-shaped strings: (offset, what, the string).
fn shapes(text: &str) -> Vec<(usize, &'static str, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    // A JWT: a base64url JSON header, a dot, a payload, a dot.
    for (start, _) in text.match_indices("eyJ") {
        let header = base64url_run(&bytes[start..]);
        let rest = start + header;
        if header >= 10 && bytes.get(rest) == Some(&b'.') {
            let payload = base64url_run(&bytes[rest + 1..]);
            let end = rest + 1 + payload;
            if payload >= 10 && bytes.get(end) == Some(&b'.') {
                found.push((start, "a JWT", &text[start..end]));
            }
        }
    }
    // An HMAC request signature, as the `Authorization` header carries it.
    for (start, _) in text.match_indices("Signature=") {
        let value = start + "Signature=".len();
        let run = bytes[value..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            .count();
        if run > 0 {
            found.push((start, "an HMAC signature", &text[start..value + run]));
        }
    }
    // A refresh token: `csr_` and 256 bits.
    for (start, _) in text.match_indices("csr_") {
        let run = base64url_run(&bytes[start + 4..]);
        if run >= 40 {
            found.push((start, "a refresh token", &text[start..start + 4 + run]));
        }
    }
    found
}

/// The first characters of a secret and its length, so a finding can be told apart and
/// searched for without the report leaking it again.
fn mask(secret: &str) -> String {
    let length = secret.chars().count();
    let start: String = secret.chars().take((length / 4).min(6)).collect();
    format!("{start}… {length} characters")
}

/// The run's directory: `$CALLSIGN_TEST_LOG_DIR`, else the newest under `target/test-logs`.
fn run_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CALLSIGN_TEST_LOG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).with_file_name("test-logs");
    std::fs::read_dir(root)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .max()
        .map(|(_, dir)| dir)
}

#[test]
#[ignore = "run by scripts/test once the whole suite has run"]
fn no_log_of_the_run_holds_a_secret() {
    let dir = run_dir().expect("a test run's log directory (run the API tests first)");
    let started = Instant::now();
    let (findings, scanned) = scan(&dir).expect("read the run's logs");
    eprintln!(
        "{}: {} log files, {:.1} MB, {} secrets, scanned in {:?}",
        dir.display(),
        scanned.files,
        scanned.bytes as f64 / 1e6,
        scanned.secrets,
        started.elapsed()
    );
    assert!(
        scanned.files > 0 && scanned.secrets > 0,
        "nothing to check in {}: the API tests log and record there",
        dir.display()
    );
    let shown: Vec<String> = findings.iter().take(50).map(Finding::to_string).collect();
    assert!(
        findings.is_empty(),
        "{} findings in {}:\n{}",
        findings.len(),
        dir.display(),
        shown.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI4OmFjczpkZW1vIn0.c2lnbmF0dXJlLW9mLWEtdG9rZW4tMDEyMzQ1Njc4OQ";
    const KEY: &str = "bm90IGEgcmVhbCBrZXkgYnV0IGxvbmcgZW5vdWdoIHRvIGJlIGZvdW5k";

    /// A run directory holding `logs` (name, text) and the recorded `secrets`.
    fn run(logs: &[(&str, &str)], secrets: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in logs {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let jsonl: Vec<String> = secrets
            .iter()
            .map(|s| serde_json::Value::from(*s).to_string())
            .collect();
        std::fs::write(
            dir.path().join("recorded-secrets.1.jsonl"),
            jsonl.join("\n"),
        )
        .unwrap();
        dir
    }

    fn findings(logs: &[(&str, &str)], secrets: &[&str]) -> Vec<Finding> {
        let dir = run(logs, secrets);
        scan(dir.path()).unwrap().0
    }

    #[test]
    fn a_planted_secret_is_found_with_its_file_and_line_and_not_shown_whole() {
        let log = format!("INFO started\nDEBUG key={KEY} loaded\nINFO done\n");
        let found = findings(&[("a.log", "clean\n"), ("b.log", &log)], &[KEY]);
        assert_eq!(found.len(), 1, "{found:?}");
        let report = found[0].to_string();
        assert!(
            report.starts_with("b.log:2: a secret the tests handled"),
            "{report}"
        );
        assert!(!report.contains(KEY), "{report}");
        assert!(report.contains(&KEY[..6]));
    }

    #[test]
    fn a_password_with_spaces_and_a_jwts_signature_alone_are_found() {
        let signature = JWT.rsplit('.').next().unwrap();
        let log = format!("1\nchecking correct horse battery staple\n3\nsig {signature}\n");
        let found = findings(&[("p.log", &log)], &["correct horse battery staple", JWT]);
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [2, 4], "{found:?}");
    }

    #[test]
    fn secret_shapes_are_found_though_nobody_recorded_them() {
        let refresh = format!("csr_{}", "A".repeat(43));
        let log = format!(
            "token {JWT}\nauthorization: HMAC-SHA256 SignedHeaders=x-ms-date&Signature=abc+/d=\nrefresh {refresh}\n"
        );
        let found = findings(&[("s.log", &log)], &[]);
        let what: Vec<(usize, &str)> = found.iter().map(|f| (f.line, f.what)).collect();
        assert_eq!(
            what,
            [
                (1, "a JWT"),
                (2, "an HMAC signature"),
                (3, "a refresh token")
            ]
        );
        assert!(found.iter().all(|f| !f.excerpt.contains("abc+/d")));
    }

    #[test]
    fn near_misses_are_not_findings() {
        let log = "introspected token is inactive reason=malformed\n\
                   refresh csr_made-up refused\n\
                   SignedHeaders=x-ms-date;host&Signature=\n\
                   path=/identities/8:acs:3f2a eyJ alone\n";
        assert_eq!(
            findings(&[("n.log", log)], &["a secret nowhere in the logs"]),
            []
        );
    }
}
