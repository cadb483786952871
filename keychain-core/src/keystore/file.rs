//! The `file` key store: a plain age identity file, mode 0600, like an SSH key. Chosen only by
//! name: anyone who can read the file can open every record.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Identity, KeyStore, KeyStoreError, KeyStoreKind, Persistence};
use crate::fsutil;

/// The identity file's name in the keychain folder.
pub const FILE_NAME: &str = "identity.txt";

/// The `file` key store of one keychain folder. Refuses an identity file its group or others
/// may access.
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    /// The store of the keychain in `dir`; touches nothing until used.
    pub fn new(dir: &Path) -> Self {
        FileKeyStore {
            path: dir.join(FILE_NAME),
        }
    }
}

impl KeyStore for FileKeyStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::File
    }

    fn persistence(&self) -> Persistence {
        Persistence::UntilDelete
    }

    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError> {
        if self.path.exists() {
            return Err(KeyStoreError::AlreadyExists {
                store: "identity file",
            });
        }
        let text = zeroize::Zeroizing::new(format!("{}\n", identity.to_string().expose_secret()));
        fsutil::write_atomic(&self.path, text.as_bytes()).map_err(|e| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    fn load(&self) -> Result<Identity, KeyStoreError> {
        #[cfg(unix)]
        if let Ok(mode) = fsutil::mode_of(&self.path)
            && mode & 0o077 != 0
        {
            return Err(KeyStoreError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        // Never blocks: a FIFO planted as the identity is refused at once.
        let file = fsutil::read_secret_file(&self.path, 64 * 1024).map_err(|e| {
            KeyStoreError::IdentityFile {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })?;
        if let Some(mode) = file.exposed {
            return Err(KeyStoreError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        let text = std::str::from_utf8(&file.bytes).map_err(|_| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: "not UTF-8 text".into(),
        })?;
        parse_identity(text.trim()).ok_or_else(|| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: "not an age identity (expected one line starting with AGE-SECRET-KEY-1)".into(),
        })
    }
}

/// Parses an age X25519 identity; `None` (never the text) when it is not one.
pub fn parse_identity(text: &str) -> Option<Identity> {
    text.parse::<Identity>().ok()
}
