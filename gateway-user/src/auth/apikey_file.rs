//! The API key store on disk: one JSON file, mode 0600, replaced atomically.

use std::path::Path;

use super::{
    apikey::{ApiKeyStore, KeyStoreError},
    secure_file::{SecureFileError, read_private, write_private},
};

/// Largest store file accepted.
pub const MAX_STORE_BYTES: u64 = 4 << 20;
/// The store's file name inside the state directory.
pub const STORE_FILE: &str = "api-keys.json";

/// The store file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed, or the file is unsafe.
    #[error(transparent)]
    File(#[from] SecureFileError),
    /// The content is invalid.
    #[error("{path}: {source}")]
    Store {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        source: KeyStoreError,
    },
}

impl ApiKeyStore {
    /// Loads the store at `path`; a missing file is an empty store (no key
    /// authenticates). A running gateway calls this again when the file's
    /// [`FileStamp`](super::FileStamp) changes; if the new file is invalid it
    /// keeps the previous store and reports the error.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        match read_private(path, MAX_STORE_BYTES)? {
            None => Ok(Self::new()),
            Some(bytes) => Self::parse(&bytes).map_err(|source| KeyFileError::Store {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the store to `path` atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        Ok(write_private(path, &self.to_json())?)
    }
}

/// The store as a running gateway holds it: reloaded when the file's
/// content changes (compared by SHA-256, so no change is missed however
/// quickly the CLI rewrites the file).
#[derive(Debug)]
pub struct WatchedKeyStore {
    path: std::path::PathBuf,
    digest: Option<[u8; 32]>,
    store: ApiKeyStore,
}

fn digest_of(bytes: &Option<Vec<u8>>) -> Option<[u8; 32]> {
    bytes.as_ref().map(|b| {
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, b).as_ref());
        out
    })
}

impl WatchedKeyStore {
    /// Loads the store at `path` (missing: empty).
    pub fn open(path: &Path) -> Result<Self, KeyFileError> {
        let mut watched = Self {
            path: path.to_owned(),
            digest: None,
            store: ApiKeyStore::new(),
        };
        watched.reload_if_changed()?;
        Ok(watched)
    }

    /// The keys in force.
    pub fn store(&self) -> &ApiKeyStore {
        &self.store
    }

    /// Re-reads the file and reloads if its content changed; call it every
    /// second or so. `Ok(true)` when reloaded. Fails secure: if the file
    /// cannot be used, no API key authenticates until it is fixed, and the
    /// error is returned for logging.
    pub fn reload_if_changed(&mut self) -> Result<bool, KeyFileError> {
        let bytes = match read_private(&self.path, MAX_STORE_BYTES) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.store = ApiKeyStore::new();
                self.digest = None;
                return Err(e.into());
            }
        };
        let digest = digest_of(&bytes);
        // Unchanged content, or still no file and no keys loaded.
        if digest == self.digest && (digest.is_some() || self.store.keys().is_empty()) {
            return Ok(false);
        }
        self.digest = digest;
        let parsed = match &bytes {
            None => Ok(ApiKeyStore::new()),
            Some(b) => ApiKeyStore::parse(b).map_err(|source| KeyFileError::Store {
                path: self.path.display().to_string(),
                source,
            }),
        };
        match parsed {
            Ok(store) => {
                self.store = store;
                Ok(true)
            }
            Err(e) => {
                self.store = ApiKeyStore::new();
                self.digest = None;
                Err(e)
            }
        }
    }
}
