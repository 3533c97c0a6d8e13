//! A SQLite database on a location Callsign cannot write: start-up fails with an error that
//! names the file, whether the database is new or already exists, instead of serving and failing
//! every write. The location is made read-only with `chmod`, or `chattr +i` when running as root
//! (root ignores permissions).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use callsign::config::Cli;
use callsign::startup::Application;
use clap::Parser;

use crate::helpers::*;

/// Paths made read-only for the life of the guard.
struct ReadOnly {
    paths: Vec<PathBuf>,
    immutable: bool,
}

impl ReadOnly {
    /// Makes `paths` read-only; `None` (with a loud message) when this machine cannot. `probe`
    /// (one of them) tells: a directory no file can be written in, a file that cannot be opened
    /// for writing.
    fn make(paths: Vec<PathBuf>, probe: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        for path in &paths {
            let mode = if path.is_dir() { 0o555 } else { 0o444 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let writable = if probe.is_dir() {
            let file = probe.join("probe");
            let written = std::fs::write(&file, b"x").is_ok();
            if written {
                std::fs::remove_file(&file).unwrap();
            }
            written
        } else {
            std::fs::OpenOptions::new().write(true).open(probe).is_ok()
        };
        if !writable {
            return Some(ReadOnly {
                paths,
                immutable: false,
            });
        }
        let chattr = Command::new("chattr").arg("+i").args(&paths).status();
        if chattr.is_ok_and(|status| status.success()) {
            return Some(ReadOnly {
                paths,
                immutable: true,
            });
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("cannot make a directory read-only here (root without chattr)");
        }
        eprintln!("\n!!! SKIPPING a test: cannot make a directory read-only here !!!\n");
        None
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").args(&self.paths).status();
        }
        for path in &self.paths {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        }
    }
}

async fn start(settings: &ServerSettings) -> anyhow::Result<Application> {
    let argv = std::iter::once("callsign".to_owned()).chain(settings.args());
    let cli = Cli::try_parse_from(argv).expect("valid arguments");
    Application::build(&cli.config).await
}

/// Settings whose database lives in `db_dir`, everything else in `data_dir`.
async fn settings_with_database_in(db_dir: &Path, data_dir: &Path) -> ServerSettings {
    let mut settings = ServerSettings::new(Backend::Sqlite, data_dir)
        .await
        .expect("SQLite is always available");
    settings.database_url = format!("sqlite://{}", db_dir.join("callsign.db").display());
    settings
}

#[tokio::test]
async fn a_new_database_in_a_read_only_directory_is_refused_at_start() {
    let (db_dir, data_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let settings = settings_with_database_in(db_dir.path(), data_dir.path()).await;
    let Some(_read_only) = ReadOnly::make(vec![db_dir.path().to_owned()], db_dir.path()) else {
        return;
    };
    let error = match start(&settings).await {
        Ok(_) => panic!("started without a database file it can create"),
        Err(error) => format!("{error:#}"),
    };
    let file = db_dir.path().join("callsign.db");
    assert!(
        error.contains(&file.display().to_string()),
        "names the file: {error}"
    );
}

/// Starts on an existing database once, then makes `which` of its location read-only: the
/// start after is refused naming the first of them.
async fn existing_database_refused(which: fn(&Path) -> Vec<PathBuf>) {
    let (db_dir, data_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let settings = settings_with_database_in(db_dir.path(), data_dir.path()).await;
    let app = spawn_app_with(settings.clone(), data_dir, &[]).await;
    app.create_identity().await;
    drop(app);
    // Let the stopped server close its connections (and checkpoint the WAL).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let paths = which(db_dir.path());
    let named = paths[0].clone();
    let Some(_read_only) = ReadOnly::make(paths, &named) else {
        return;
    };
    let error = match start(&settings).await {
        Ok(_) => panic!("started on a database it cannot write"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains(&format!("cannot write {}:", named.display())),
        "names {}: {error}",
        named.display()
    );
}

/// The database's files read-only, in a directory Callsign may write in.
#[tokio::test]
async fn an_existing_database_made_read_only_is_refused_at_start() {
    existing_database_refused(|dir| {
        let database = dir.join("callsign.db");
        let mut paths = vec![database.clone()];
        paths.extend(
            std::fs::read_dir(dir)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| *path != database),
        );
        paths
    })
    .await;
}

/// SQLite in WAL mode creates files beside the database: a writable file is not enough.
#[tokio::test]
async fn an_existing_database_in_a_read_only_directory_is_refused_at_start() {
    existing_database_refused(|dir| vec![dir.to_owned()]).await;
}
