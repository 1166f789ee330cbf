//! The IO shell: the JSON state file. Loading is strict (size limit,
//! unknown fields refused, every hash re-checked); saving is atomic
//! (temp file, fsync, rename, mode 0600). A corrupt file is an error,
//! never a reason to trust again.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{PinError, PinStore, canonical_hash, types::UpstreamPins};

/// The state file's name inside the state directory.
pub const STATE_FILE_NAME: &str = "tool-pins.json";
/// Largest state file loaded.
pub const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    upstreams: BTreeMap<String, UpstreamPins>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PinError + '_ {
    move |source| PinError::Io {
        path: path.to_owned(),
        source,
    }
}

impl PinStore {
    /// The state file path inside `state_dir`.
    pub fn state_file(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE_NAME)
    }

    /// Loads a state file. Missing, oversized, group/other-writable or
    /// inconsistent files are errors.
    pub fn load(path: &Path) -> Result<Self, PinError> {
        let file = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PinError::NotFound(path.to_owned()));
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let meta = file.metadata().map_err(io_err(path))?;
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(PinError::InsecurePermissions(path.to_owned()));
        }
        if meta.len() > MAX_STATE_BYTES {
            return Err(PinError::TooLarge {
                path: path.to_owned(),
                limit: MAX_STATE_BYTES,
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err(path))?;
        if bytes.len() as u64 > MAX_STATE_BYTES {
            return Err(PinError::TooLarge {
                path: path.to_owned(),
                limit: MAX_STATE_BYTES,
            });
        }
        Self::from_json(&bytes).map_err(|e| match e {
            PinError::Corrupt { reason, .. } => PinError::Corrupt {
                path: path.to_owned(),
                reason,
            },
            other => other,
        })
    }

    /// Loads a state file, or an empty store when there is none yet.
    pub fn load_or_new(path: &Path) -> Result<Self, PinError> {
        match Self::load(path) {
            Err(PinError::NotFound(_)) => Ok(Self::new()),
            other => other,
        }
    }

    /// Replaces pins and pending changes with the file's, keeping modes.
    /// On error nothing changes.
    pub fn reload(&mut self, path: &Path) -> Result<(), PinError> {
        let loaded = Self::load(path)?;
        self.upstreams = loaded.upstreams;
        Ok(())
    }

    /// Parses state (sans-IO core of [`PinStore::load`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, PinError> {
        let corrupt = |reason: String| PinError::Corrupt {
            path: PathBuf::new(),
            reason,
        };
        let state: StateFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if state.version != VERSION {
            return Err(corrupt(format!("unsupported version {}", state.version)));
        }
        for (upstream, pins) in &state.upstreams {
            for (name, p) in &pins.pinned {
                if p.definition.get("name").and_then(|n| n.as_str()) != Some(name.as_str()) {
                    return Err(corrupt(format!(
                        "pin `{upstream}/{name}` holds another tool's definition"
                    )));
                }
                if canonical_hash(&p.definition) != p.hash {
                    return Err(corrupt(format!(
                        "pin `{upstream}/{name}` does not match its hash"
                    )));
                }
            }
            for (name, c) in &pins.pending {
                let consistent = c.upstream == *upstream
                    && c.tool == *name
                    && match (&c.definition, &c.new_hash) {
                        (Some(d), Some(h)) => canonical_hash(d) == *h,
                        (None, None) => true,
                        _ => false,
                    };
                if !consistent {
                    return Err(corrupt(format!(
                        "pending change `{upstream}/{name}` is inconsistent"
                    )));
                }
            }
        }
        let mut store = Self::new();
        store.upstreams = state.upstreams;
        Ok(store)
    }

    /// Parses a pin file from config: a JSON array of tool definitions, or
    /// a tools/list result (`{"tools": [...]}`), e.g. saved from a trusted
    /// run. Feed the tools to [`PinStore::pin_from_file`].
    pub fn parse_pin_file(bytes: &[u8]) -> Result<Vec<serde_json::Value>, PinError> {
        let corrupt = |reason: &str| PinError::Corrupt {
            path: PathBuf::new(),
            reason: reason.to_owned(),
        };
        if bytes.len() as u64 > MAX_STATE_BYTES {
            return Err(corrupt("the pin file is too large"));
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(&e.to_string()))?;
        match value {
            serde_json::Value::Array(tools) => Ok(tools),
            serde_json::Value::Object(mut map) => match map.remove("tools") {
                Some(serde_json::Value::Array(tools)) => Ok(tools),
                _ => Err(corrupt("expected an array of tools or {\"tools\": [...]}")),
            },
            _ => Err(corrupt("expected an array of tools or {\"tools\": [...]}")),
        }
    }

    /// Serializes state (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let state = StateFile {
            version: VERSION,
            upstreams: self.upstreams.clone(),
        };
        // Serializing plain maps, strings and JSON values cannot fail.
        serde_json::to_vec_pretty(&state).unwrap_or_default()
    }

    /// Writes the state atomically: a 0600 temp file beside `path`, fsync,
    /// rename over `path`, fsync the directory.
    pub fn save(&self, path: &Path) -> Result<(), PinError> {
        let bytes = self.to_json();
        if bytes.len() as u64 > MAX_STATE_BYTES {
            // Never write a file that `load` would refuse.
            return Err(PinError::TooLarge {
                path: path.to_owned(),
                limit: MAX_STATE_BYTES,
            });
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| io_err(path)(io::Error::other("not a file path")))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let open = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
        };
        let mut file = match open() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp).map_err(io_err(&tmp))?;
                open()
            }
            other => other,
        }
        .map_err(io_err(&tmp))?;
        let written = file
            .write_all(&self.to_json())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&tmp)(e));
        }
        drop(file);
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(path)(e));
        }
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    }

    /// Load-modify-save under an exclusive lock (`<path>.lock`), so the
    /// gateway and `portcullis tools approve` never overwrite each other:
    /// reloads the file into `self` (keeping modes; a missing file means
    /// empty), runs `f`, and saves only if `f` succeeded. On a load error
    /// nothing is changed or saved.
    pub fn locked_update<T>(
        &mut self,
        path: &Path,
        f: impl FnOnce(&mut Self) -> Result<T, PinError>,
    ) -> Result<T, PinError> {
        let mut lock_name = path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let lock_file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| io_err(&lock_path)(io::Error::from(errno)))?;
        let loaded = Self::load_or_new(path)?;
        self.upstreams = loaded.upstreams;
        let out = f(self)?;
        self.save(path)?;
        Ok(out)
    }
}
