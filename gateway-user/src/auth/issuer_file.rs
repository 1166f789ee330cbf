//! The embedded issuer's files in the state directory:
//! `issuer/signing-key.pk8` (PKCS#8, mode 0600 — refused otherwise) and
//! `issuer/retired-keys.json` (previous public keys still published).

use std::path::{Path, PathBuf};

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::{
    issuer::{Issuer, IssuerConfig, IssuerError, RetiredKey, generate_signing_key},
    secure_file::{SecureFileError, read_private, write_private},
};

const KEY_FILE: &str = "signing-key.pk8";
const RETIRED_FILE: &str = "retired-keys.json";
const MAX_KEY_BYTES: u64 = 4096;
const MAX_RETIRED_BYTES: u64 = 256 * 1024;

/// The issuer's files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerFileError {
    /// IO, size or permission problem.
    #[error(transparent)]
    File(#[from] SecureFileError),
    /// The key or retired list is invalid.
    #[error("{path}: {source}")]
    Issuer {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: IssuerError,
    },
    /// The retired list is not valid JSON of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// No signing key exists (and this operation does not create one).
    #[error("{0}: no signing key; run `portcullis token issue` or `token rotate-key` first")]
    NoKey(PathBuf),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetiredDoc {
    retired: Vec<RetiredKey>,
}

/// Where the issuer's files live under a state directory.
#[derive(Debug, Clone)]
pub struct IssuerFiles {
    dir: PathBuf,
}

impl IssuerFiles {
    /// The files under `state_dir/issuer`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("issuer"),
        }
    }

    /// The signing key's path.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    fn retired_path(&self) -> PathBuf {
        self.dir.join(RETIRED_FILE)
    }

    fn read_retired(&self) -> Result<Vec<RetiredKey>, IssuerFileError> {
        let path = self.retired_path();
        match read_private(&path, MAX_RETIRED_BYTES)? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice::<RetiredDoc>(&bytes)
                .map(|d| d.retired)
                .map_err(|e| IssuerFileError::Parse {
                    path,
                    message: e.to_string(),
                }),
        }
    }

    fn build(&self, config: IssuerConfig, pkcs8: &[u8]) -> Result<Issuer, IssuerFileError> {
        let retired = self.read_retired()?;
        Issuer::new(config, pkcs8, retired).map_err(|source| IssuerFileError::Issuer {
            path: self.key_path(),
            source,
        })
    }

    fn create_key(&self, rng: &dyn SecureRandom) -> Result<Vec<u8>, IssuerFileError> {
        let pkcs8 = generate_signing_key(rng).map_err(|source| IssuerFileError::Issuer {
            path: self.key_path(),
            source,
        })?;
        write_private(&self.key_path(), &pkcs8)?;
        Ok(pkcs8)
    }

    /// Loads the issuer; refuses a missing key, or one readable by others.
    /// The gateway uses this to publish and trust the issuer's JWKS.
    pub fn load(&self, config: IssuerConfig) -> Result<Issuer, IssuerFileError> {
        let pkcs8 = read_private(&self.key_path(), MAX_KEY_BYTES)?
            .ok_or_else(|| IssuerFileError::NoKey(self.key_path()))?;
        self.build(config, &pkcs8)
    }

    /// Loads the issuer, creating its key (mode 0600) on first use.
    pub fn load_or_create(
        &self,
        config: IssuerConfig,
        rng: &dyn SecureRandom,
    ) -> Result<Issuer, IssuerFileError> {
        let pkcs8 = match read_private(&self.key_path(), MAX_KEY_BYTES)? {
            Some(pkcs8) => pkcs8,
            None => self.create_key(rng)?,
        };
        self.build(config, &pkcs8)
    }

    /// Replaces the signing key; the old public key stays in the JWKS until
    /// every token it signed has expired. The retired list is written before
    /// the new key, so a crash in between leaves a valid (if redundant) state.
    pub fn rotate(
        &self,
        config: IssuerConfig,
        rng: &dyn SecureRandom,
        now: u64,
    ) -> Result<Issuer, IssuerFileError> {
        let current = self.load_or_create(config.clone(), rng)?;
        let retired = current.retire_current(now);
        let doc = serde_json::to_vec_pretty(&RetiredDoc { retired }).unwrap_or_default();
        write_private(&self.retired_path(), &doc)?;
        let pkcs8 = self.create_key(rng)?;
        self.build(config, &pkcs8)
    }
}
