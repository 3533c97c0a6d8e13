//! Records the git commit Callsign is built from (for `/version` and `callsign_build_info`).
//! `CALLSIGN_GIT_COMMIT` in the build environment wins (e.g. a Docker build without `.git`).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CALLSIGN_GIT_COMMIT");
    // Rebuild when HEAD or its branch moves, watching the files where git keeps them: in a
    // linked worktree `.git` is a file, and other branches moving must not rebuild this one. A
    // watched path that does not exist would rebuild the crate on every build.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        // A packed branch has no file of its own.
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in watched.into_iter().flatten() {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("CALLSIGN_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    println!(
        "cargo:rustc-env=CALLSIGN_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}

/// What `git args` prints, trimmed; None without git or outside a repository.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|out| out.trim().to_owned())
}
