//! Files only Callsign's own user may read: the data directory is made `0700` (when created,
//! and at start-up if it was left open), the master key, TLS key and SQLite database `0600`,
//! whatever the umask; and a generated master key that others can read is refused, not used.

use std::io::{Read, Write};
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

/// Takes group and other permissions off an existing directory, as for one made by hand or by
/// an image build with the usual `0755`. Returns the mode it had, when it changed it; nothing
/// when the directory is missing or already owner-only.
pub fn tighten_dir(dir: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A symbolic link is left alone: what it points to may be shared, and is not ours to
        // change.
        let mode = match std::fs::symlink_metadata(dir) {
            Ok(metadata) if metadata.is_dir() => metadata.permissions().mode() & 0o7777,
            Ok(_) => return Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if mode & 0o077 == 0 {
            return Ok(None);
        }
        // Only group and other bits go; setgid and sticky stay (a volume's group inheritance).
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077))?;
        Ok(Some(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// Reads a file that must be owner-only, as ssh and PostgreSQL treat a private key: one that
/// group or others may access is refused, with the `chmod` that fixes it. The mode is read from
/// the opened file, so it is the mode of what is read.
pub fn read_owner_only(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{path} is accessible by group or others (mode {mode:04o}); it must be \
                     owner-only: run `chmod 600 {path}`",
                    path = path.display()
                ),
            ));
        }
    }
    let mut contents = String::new();
    file.read_to_string(&mut contents)?;
    Ok(contents)
}

fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
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

    #[test]
    fn an_open_directory_is_tightened_and_an_owner_only_one_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        assert_eq!(tighten_dir(&dir).unwrap(), None, "missing");
        std::fs::create_dir(&dir).unwrap();
        for open in [0o755, 0o750, 0o707] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(open)).unwrap();
            assert_eq!(tighten_dir(&dir).unwrap(), Some(open), "{open:o}");
            assert_eq!(mode(&dir), 0o700, "{open:o}");
        }
        assert_eq!(tighten_dir(&dir).unwrap(), None, "already owner-only");
        // A volume's setgid bit (its group inheritance) stays.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2775)).unwrap();
        assert_eq!(tighten_dir(&dir).unwrap(), Some(0o2775));
        assert_eq!(mode(&dir), 0o2700);
        // A link is not followed: what it points to is not ours to change.
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        assert_eq!(tighten_dir(&link).unwrap(), None);
        assert_eq!(mode(&shared), 0o755);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // Tightening never grants the owner more than it had.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        assert_eq!(tighten_dir(&dir).unwrap(), Some(0o555));
        assert_eq!(mode(&dir), 0o500);
    }

    #[test]
    fn a_private_file_others_may_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.key");
        write_new(&key, b"secret").unwrap();
        assert_eq!(read_owner_only(&key).unwrap(), "secret");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            read_owner_only(&key).unwrap(),
            "secret",
            "read-only is fine"
        );
        for open in [0o644, 0o640, 0o604, 0o620, 0o602] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(open)).unwrap();
            let error = read_owner_only(&key).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
            let message = error.to_string();
            assert!(message.contains(&format!("mode 0{open:o}")), "{message}");
            assert!(
                message.contains(&format!("chmod 600 {}", key.display())),
                "{message}"
            );
        }
    }
}
