//! Files only Callsign's own user may read: the data directory is made `0700`, the master key,
//! TLS key and SQLite database `0600`, whatever the umask.

use std::io::Write;
use std::path::Path;

/// Creates `dir` (and its parents) if missing; a directory Callsign creates is `0700`.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a new file only its owner can read; fails if it exists.
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    open_new(path)?.write_all(contents)
}

/// Creates an empty owner-only file unless one exists (SQLite then keeps its mode, and gives its
/// `-wal` and `-shm` files the same).
pub fn touch(path: &Path) -> std::io::Result<()> {
    match open_new(path) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn owner_only_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let key = dir.join("master.key");
        write_new(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(write_new(&key, b"again").is_err(), "never overwrites");
        let db = dir.join("callsign.db");
        touch(&db).unwrap();
        touch(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }
}
