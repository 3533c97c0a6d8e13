//! Records the git commit Callsign is built from (for `/version` and `callsign_build_info`).
//! `CALLSIGN_GIT_COMMIT` in the build environment wins (e.g. a Docker build without `.git`).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CALLSIGN_GIT_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("CALLSIGN_GIT_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|commit| commit.trim().to_owned())
    });
    println!(
        "cargo:rustc-env=CALLSIGN_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
