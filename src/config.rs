//! Where a keychain lives and how it was set up.
//!
//! A keychain is a folder (`$XDG_DATA_HOME/keychain` unless `--dir`/`KEYCHAIN_DIR` says
//! otherwise) holding `config.json` (which key store holds the identity, and to whom records are
//! encrypted: no secrets), the account records and their locks. `config.json` is written once by
//! `keychain init` and never re-created when it cannot be read.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::keystore::KeyStoreKind;

pub const CONFIG_FILE: &str = "config.json";
const FORMAT: u32 = 1;

/// The folder of the keychain to use: the flag or environment value, else the XDG data folder.
pub fn resolve_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("keychain"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/keychain")),
        None => Err(Error::usage_hint(
            "cannot find the keychain folder: neither XDG_DATA_HOME nor HOME is set",
            "give --dir DIR or set KEYCHAIN_DIR",
        )),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub format: u32,
    pub key_store: KeyStoreKind,
    /// The public key of this keychain's own identity: every record is encrypted to it.
    pub recipient: String,
    /// Further public keys every record is also encrypted to (e.g. a security officer's escrow key).
    #[serde(default)]
    pub escrow_recipients: Vec<String>,
    pub created: i64,
}

impl Config {
    pub fn new(key_store: KeyStoreKind, recipient: String, escrow_recipients: Vec<String>) -> Self {
        Config {
            format: FORMAT,
            key_store,
            recipient,
            escrow_recipients,
            created: crate::clock::now(),
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// Reads the configuration; a missing one means the keychain was never initialised.
    pub fn load(dir: &Path) -> Result<Config> {
        let path = Config::path(dir);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::usage_hint(
                    format!("no keychain in {}", dir.display()),
                    "run 'keychain init' first, or point --dir/KEYCHAIN_DIR at an existing keychain",
                ));
            }
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Integrity {
            path: path.clone(),
            reason: format!(
                "not a valid keychain configuration (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        if config.format != FORMAT {
            return Err(Error::Integrity {
                path,
                reason: format!(
                    "configuration format {} is not supported by this version",
                    config.format
                ),
            });
        }
        Ok(config)
    }

    /// Writes the configuration of a new keychain; refuses to replace an existing one.
    pub fn create(&self, dir: &Path) -> Result<()> {
        let path = Config::path(dir);
        if path.exists() {
            return Err(Error::usage_hint(
                format!("a keychain already exists in {}", dir.display()),
                "use it as it is, or choose another folder with --dir",
            ));
        }
        let bytes = serde_json::to_vec_pretty(self).expect("configuration serialises");
        fsutil::write_atomic(&path, &bytes)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }

    /// All recipients a record must be encrypted to.
    pub fn all_recipients(&self) -> Result<Vec<age::x25519::Recipient>> {
        std::iter::once(&self.recipient)
            .chain(&self.escrow_recipients)
            .map(|r| parse_recipient(r))
            .collect()
    }
}

/// Parses an age X25519 public key (`age1...`).
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient> {
    text.trim().parse().map_err(|_| {
        Error::usage_hint(
            format!("'{}' is not an age public key", text.trim()),
            "an age public key starts with 'age1'; 'age-keygen -y KEYFILE' prints the one of a key file",
        )
    })
}
