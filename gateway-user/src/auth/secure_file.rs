//! Small files holding secrets or credentials' hashes: written atomically
//! with mode 0600, read with a size limit, and refused when others could
//! read or change them.

use std::{
    fs,
    io::{Read as _, Write as _},
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

/// A state file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecureFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Larger than the limit for this kind of file.
    #[error("{path}: larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Group or others may read or write it.
    #[error("{path}: mode {mode:o} lets other users read or change it; run `chmod 600` on it")]
    Insecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecureFileError + '_ {
    move |source| SecureFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads `path` if it exists: `Ok(None)` when it does not. Refuses a file
/// that is not a regular file, larger than `limit`, or accessible to group
/// or others (mode & 0o077).
pub fn read_private(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, SecureFileError> {
    // Non-blocking open: a FIFO planted at the path cannot hang the reader.
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(io(path)(std::io::Error::other("not a regular file")));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecureFileError::Insecure {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.len() > limit {
        return Err(SecureFileError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > limit {
        return Err(SecureFileError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(Some(bytes))
}

/// Writes `bytes` to `path` atomically: a new 0600 temp file in the same
/// directory, fsync, rename over `path`. The directory is created (0700)
/// if missing.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SecureFileError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // The umask cannot widen 0600, but an existing ACL default might; be explicit.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

/// A cheap change detector for reloading a file a running gateway uses:
/// compare two stamps; a different one means reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified_ns: i128,
    inode: u64,
}

impl FileStamp {
    /// The stamp of `path` now (`None` if it does not exist).
    pub fn of(path: &Path) -> Result<Option<Self>, SecureFileError> {
        use std::os::unix::fs::MetadataExt as _;
        match fs::metadata(path) {
            Ok(m) => Ok(Some(Self {
                len: m.len(),
                modified_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                inode: m.ino(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_dir {
    //! A unique temporary directory removed on drop.
    use std::path::{Path, PathBuf};

    /// The directory.
    #[derive(Debug)]
    pub struct TestDir(PathBuf);

    impl TestDir {
        /// A fresh directory under the system temp dir.
        pub fn new(tag: &str) -> Self {
            use ring::rand::SecureRandom as _;
            let mut n = [0u8; 8];
            ring::rand::SystemRandom::new()
                .fill(&mut n)
                .expect("random");
            let path = std::env::temp_dir().join(format!(
                "portcullis-test-{tag}-{}-{}",
                std::process::id(),
                u64::from_le_bytes(n)
            ));
            std::fs::create_dir_all(&path).expect("create test dir");
            Self(path)
        }
        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{test_dir::TestDir, *};

    #[test]
    fn written_files_are_0600_and_read_back() {
        let dir = TestDir::new("sf");
        let path = dir.path().join("sub/state.json");
        write_private(&path, b"{}").expect("write");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_private(&path, 16).expect("read"), Some(b"{}".to_vec()));
        assert_eq!(
            read_private(&dir.path().join("none"), 16).expect("absent"),
            None
        );
    }

    #[test]
    fn group_readable_and_oversized_files_are_refused() {
        let dir = TestDir::new("sf-bad");
        let path = dir.path().join("state.json");
        write_private(&path, b"0123456789").expect("write");
        assert!(matches!(
            read_private(&path, 4),
            Err(SecureFileError::TooLarge { limit: 4, .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = read_private(&path, 64).expect_err("group-readable must fail");
        assert!(
            matches!(err, SecureFileError::Insecure { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn stamps_change_when_the_file_is_replaced() {
        let dir = TestDir::new("sf-stamp");
        let path = dir.path().join("keys.json");
        assert_eq!(FileStamp::of(&path).expect("stat"), None);
        write_private(&path, b"a").expect("write");
        let first = FileStamp::of(&path).expect("stat");
        write_private(&path, b"bb").expect("write");
        let second = FileStamp::of(&path).expect("stat");
        assert!(first.is_some() && first != second);
    }
}
