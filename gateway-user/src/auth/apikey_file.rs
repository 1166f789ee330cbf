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
