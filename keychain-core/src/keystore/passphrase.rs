//! The `passphrase` key store: the identity in `identity.age`, encrypted with a passphrase
//! (age scrypt), for servers without an OS credential store.
//!
//! scrypt costs about a second and hundreds of MiB by design, so it must never run per call in
//! scripts: a job's passphrase file derives the key once into the kernel keyring
//! ([`super::derived`]), and `keychain unlock` caches the identity there too. The passphrase
//! comes from the passphrase file of the [`Settings`] (`KEYCHAIN_PASSPHRASE_FILE`, or the systemd
//! credential `keychain-passphrase`) or a terminal prompt.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::file::parse_identity;
use super::{Identity, KeyStore, KeyStoreError, KeyStoreKind, Persistence};
use crate::fsutil;
use crate::settings::{MAX_WORK_FACTOR, Settings};

/// The encrypted identity file's name in the keychain folder.
pub const FILE_NAME: &str = "identity.age";

/// The `passphrase` key store of one keychain folder. Every `load` runs scrypt once: callers
/// that run often go through the `unlock` cache.
pub struct PassphraseKeyStore {
    path: PathBuf,
    passphrase_file: Option<PathBuf>,
    work_factor: Option<u8>,
}

impl PassphraseKeyStore {
    /// The store of the keychain in `dir`, its passphrase file and scrypt work factor as
    /// `settings` say; touches nothing until used.
    pub fn new(dir: &Path, settings: &Settings) -> Self {
        PassphraseKeyStore {
            path: dir.join(FILE_NAME),
            passphrase_file: settings.passphrase_file.clone(),
            work_factor: settings.scrypt_work_factor,
        }
    }

    /// The encrypted identity file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The encrypted identity file's bytes (a few hundred).
    pub fn ciphertext(&self) -> Result<Vec<u8>, KeyStoreError> {
        crate::fsutil::read_regular(&self.path, MAX_IDENTITY_FILE).map_err(|e| {
            KeyStoreError::IdentityFile {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })
    }

    /// Runs scrypt: the identity in `ciphertext` (this store's file, as read), opened with
    /// `pass`. A passphrase that does not open it is [`KeyStoreError::WrongPassphrase`].
    pub fn decrypt(
        &self,
        ciphertext: &[u8],
        pass: SecretString,
    ) -> Result<Identity, KeyStoreError> {
        let mut identity = age::scrypt::Identity::new(pass);
        identity.set_max_work_factor(MAX_WORK_FACTOR);
        let waiting = crate::progress::waiting("deriving the key from the passphrase");
        let plaintext = crate::crypto::decrypt(ciphertext, &identity);
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

/// The name of the passphrase among systemd's credentials (`LoadCredential=keychain-passphrase:...`).
pub const CREDENTIAL_NAME: &str = "keychain-passphrase";

/// Where a job's passphrase comes from without a prompt: the file given
/// (`KEYCHAIN_PASSPHRASE_FILE`), else `<credentials>/keychain-passphrase` when systemd passed
/// that credential (`credentials` is `$CREDENTIALS_DIRECTORY`, read by the caller).
pub fn passphrase_file(given: Option<PathBuf>, credentials: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given.filter(|p| !p.as_os_str().is_empty()) {
        return Some(path);
    }
    let credentials = credentials.filter(|p| !p.as_os_str().is_empty())?;
    let path = credentials.join(CREDENTIAL_NAME);
    path.exists().then_some(path)
}

/// The largest encrypted identity file read (one is a few hundred bytes).
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;

/// The largest passphrase file read (a passphrase is one line).
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;

/// The passphrase from `file` (its first line), else from a terminal prompt.
pub fn passphrase(
    file: Option<&Path>,
    prompt: &str,
    confirm: bool,
) -> Result<SecretString, KeyStoreError> {
    if let Some(path) = file {
        // Never blocks (a FIFO is refused at once) and refuses a file others can read: the
        // passphrase opens every record, and stays on disk for every job.
        let fail = |source| KeyStoreError::PassphraseFile {
            path: path.to_path_buf(),
            source,
        };
        let file = crate::fsutil::read_secret_file(path, MAX_PASSPHRASE_FILE)
            .and_then(|f| f.private(path))
            .map_err(fail)?;
        let text = std::str::from_utf8(&file.bytes).map_err(|_| {
            fail(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not UTF-8 text",
            ))
        })?;
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

impl KeyStore for PassphraseKeyStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::Passphrase
    }

    fn persistence(&self) -> Persistence {
        Persistence::UntilDelete
    }

    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError> {
        let pass = self.new_passphrase()?;
        self.save_with(identity, pass)
    }

    fn load(&self) -> Result<Identity, KeyStoreError> {
        self.load_identity()
    }
}

impl PassphraseKeyStore {
    /// The passphrase of a new keychain, from the passphrase file or asked twice: `init` asks
    /// before it creates anything, so that a person who stops at the prompt (Ctrl-C) leaves no
    /// folder behind. Refuses when the identity file exists already.
    pub fn new_passphrase(&self) -> Result<SecretString, KeyStoreError> {
        if self.path.exists() {
            return Err(KeyStoreError::AlreadyExists {
                store: "passphrase identity file",
            });
        }
        let pass = passphrase(
            self.passphrase_file.as_deref(),
            "Passphrase for the new keychain: ",
            true,
        )?;
        if pass.expose_secret().is_empty() {
            return Err(KeyStoreError::Failed {
                store: "passphrase prompt",
                reason: "the passphrase is empty".into(),
            });
        }
        Ok(pass)
    }

    /// Keeps a new identity, encrypted with `pass` (from [`Self::new_passphrase`]).
    pub fn save_with(&self, identity: &Identity, pass: SecretString) -> Result<(), KeyStoreError> {
        if self.path.exists() {
            return Err(KeyStoreError::AlreadyExists {
                store: "passphrase identity file",
            });
        }
        let mut recipient = age::scrypt::Recipient::new(pass);
        // age's calibration (about a second) unless the settings say (tests use a low one).
        if let Some(log_n) = self.work_factor {
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

    fn load_identity(&self) -> Result<Identity, KeyStoreError> {
        let ciphertext = self.ciphertext()?;
        let pass = passphrase(
            self.passphrase_file.as_deref(),
            "Passphrase of the keychain: ",
            false,
        )?;
        self.decrypt(&ciphertext, pass)
    }
}
