//! The `passphrase` key store: the identity in `identity.age`, encrypted with a passphrase
//! (age scrypt), for servers without an OS credential store.
//!
//! scrypt costs about a second and hundreds of MiB by design, so it must never run per call in
//! scripts: `keychain unlock` caches the identity in the kernel keyring instead. The passphrase
//! comes from `KEYCHAIN_PASSPHRASE_FILE` (e.g. a systemd credential) or a terminal prompt.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::file::parse_identity;
use super::{Identity, KeyStore, KeyStoreError, KeyStoreKind, Persistence};
use crate::fsutil;

pub const FILE_NAME: &str = "identity.age";
/// The highest scrypt work factor we accept when decrypting (age calibrates to ~19 here).
const MAX_WORK_FACTOR: u8 = 22;

pub struct PassphraseKeyStore {
    path: PathBuf,
}

impl PassphraseKeyStore {
    pub fn new(dir: &Path) -> Self {
        PassphraseKeyStore {
            path: dir.join(FILE_NAME),
        }
    }
}

/// The name of the passphrase among systemd's credentials (`LoadCredential=keychain-passphrase:...`).
pub const CREDENTIAL_NAME: &str = "keychain-passphrase";

/// Where a job's passphrase comes from without a prompt: `KEYCHAIN_PASSPHRASE_FILE`, else
/// `$CREDENTIALS_DIRECTORY/keychain-passphrase` when systemd passed that credential.
pub fn passphrase_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYCHAIN_PASSPHRASE_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|p| !p.is_empty())?;
    let path = PathBuf::from(credentials).join(CREDENTIAL_NAME);
    path.exists().then_some(path)
}

/// The passphrase from [`passphrase_file`] (its first line), else from a terminal prompt.
pub fn passphrase(prompt: &str, confirm: bool) -> Result<SecretString, KeyStoreError> {
    if let Some(path) = passphrase_file() {
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(|source| {
            KeyStoreError::PassphraseFile {
                path: path.clone(),
                source,
            }
        })?);
        let line = text.lines().next().unwrap_or("");
        return Ok(SecretString::from(line.to_string()));
    }
    let first = crate::prompt::secret(prompt).map_err(|_| KeyStoreError::PassphraseNeeded)?;
    if confirm {
        let second = crate::prompt::secret("Repeat the passphrase: ")
            .map_err(|_| KeyStoreError::PassphraseNeeded)?;
        if !crate::secret::ct_eq(&first, &second) {
            return Err(KeyStoreError::Failed {
                store: "passphrase prompt",
                reason: "the passphrases differ".into(),
            });
        }
    }
    Ok(first)
}

/// The scrypt work factor for a new identity file: age's calibration (about a second), unless
/// `KEYCHAIN_SCRYPT_WORK_FACTOR` sets one (tests use a low one to stay fast).
fn work_factor() -> Option<u8> {
    std::env::var("KEYCHAIN_SCRYPT_WORK_FACTOR")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=MAX_WORK_FACTOR).contains(n))
}

impl KeyStore for PassphraseKeyStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::Passphrase
    }

    fn persistence(&self) -> Persistence {
        Persistence::UntilDelete
    }

    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError> {
        if self.path.exists() {
            return Err(KeyStoreError::AlreadyExists {
                store: "passphrase identity file",
            });
        }
        let pass = passphrase("Passphrase for the new keychain: ", true)?;
        if pass.expose_secret().is_empty() {
            return Err(KeyStoreError::Failed {
                store: "passphrase prompt",
                reason: "the passphrase is empty".into(),
            });
        }
        let mut recipient = age::scrypt::Recipient::new(pass);
        if let Some(log_n) = work_factor() {
            recipient.set_work_factor(log_n);
        }
        let plaintext =
            zeroize::Zeroizing::new(identity.to_string().expose_secret().as_bytes().to_vec());
        let waiting = crate::progress::waiting("deriving the key from the passphrase");
        let ciphertext = crate::crypto::encrypt(&plaintext, &[&recipient]);
        drop(waiting);
        let ciphertext = ciphertext.map_err(|e| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(&self.path, &ciphertext).map_err(|e| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    fn load(&self) -> Result<Identity, KeyStoreError> {
        let ciphertext = std::fs::read(&self.path).map_err(|e| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let pass = passphrase("Passphrase of the keychain: ", false)?;
        let mut identity = age::scrypt::Identity::new(pass);
        identity.set_max_work_factor(MAX_WORK_FACTOR);
        let waiting = crate::progress::waiting("deriving the key from the passphrase");
        let plaintext = crate::crypto::decrypt(&ciphertext, &identity);
        drop(waiting);
        let plaintext = plaintext.map_err(|e| match e {
            age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed
            | age::DecryptError::NoMatchingKeys => {
                KeyStoreError::WrongPassphrase(self.path.clone())
            }
            other => KeyStoreError::IdentityFile {
                path: self.path.clone(),
                reason: other.to_string(),
            },
        })?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: "does not hold an age identity".into(),
        })?;
        parse_identity(text.trim()).ok_or_else(|| KeyStoreError::IdentityFile {
            path: self.path.clone(),
            reason: "does not hold an age identity".into(),
        })
    }
}
