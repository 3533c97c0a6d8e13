//! A private PostgreSQL cluster for tests that must do to PostgreSQL what no shared server
//! allows: serve TLS only, or stop abruptly and come back. Started by `scripts/private-postgres`
//! (initdb in a temporary directory, its own port); stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::required_env;
use crate::process::free_port;

pub struct PrivatePostgres {
    pub url: String,
    dir: tempfile::TempDir,
}

/// Whether this machine can run a private cluster; in CI it must.
fn available() -> bool {
    let found = Command::new("sh")
        .args([
            "-c",
            "command -v pg_ctl || command -v pg_config || ls /usr/lib/postgresql/*/bin/initdb",
        ])
        .output()
        .is_ok_and(|output| output.status.success());
    found
        || required_env(
            "CALLSIGN_TEST_PRIVATE_PG",
            "PostgreSQL's server binaries are not installed",
        )
        .is_some()
}

impl PrivatePostgres {
    /// Starts a cluster; with `tls` (certificate and key PEM files) it accepts TLS only.
    pub fn start(tls: Option<(&Path, &Path)>) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/private-postgres"
        ));
        command
            .arg(dir.path().join("pg"))
            .arg(free_port().to_string());
        if let Some((cert, key)) = tls {
            command
                .env("PRIVATE_PG_TLS_CERT", cert)
                .env("PRIVATE_PG_TLS_KEY", key);
        }
        let output = command.output().expect("run scripts/private-postgres");
        assert!(output.status.success(), "private PostgreSQL: {output:?}");
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Some(PrivatePostgres { url, dir })
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pg/data")
    }

    /// `pg_ctl` as the cluster's owner.
    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let data = self.data();
        let script = format!(
            "bindir=$(pg_config --bindir 2>/dev/null); [ -x \"$bindir/pg_ctl\" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); \
             owner=$(stat -c %U '{0}'); cmd=(\"$bindir/pg_ctl\" -D '{0}' \"$@\"); \
             if [ \"$(id -u)\" = 0 ]; then runuser -u \"$owner\" -- \"${{cmd[@]}}\"; else \"${{cmd[@]}}\"; fi",
            data.display()
        );
        Command::new("bash")
            .args(["-c", &script, "pg_ctl"])
            .args(args)
            .output()
            .expect("run pg_ctl")
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn crash(&self) {
        let output = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        assert!(output.status.success(), "{output:?}");
    }

    /// Starts the server again after [`PrivatePostgres::crash`], with its earlier options.
    pub fn restart(&self) {
        let log = self.dir.path().join("pg/postgres.log");
        let output = self.pg_ctl(&["start", "-w", "-l", log.to_str().unwrap()]);
        assert!(output.status.success(), "{output:?}");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
    }
}
