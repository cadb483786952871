//! Where the age identity that opens the records is kept.
//!
//! The store is chosen once, at `keychain init`, and recorded in `config.json`; it is never
//! replaced by a weaker one behind the user's back. When the chosen store is missing, locked or
//! not answering, the error says which, why and what to do. A kernel-keyring cache
//! ([`kernel`], `keychain unlock`) may hold the identity for a while so that later calls need
//! neither a passphrase nor a Secret Service round trip.

pub mod file;
#[cfg(target_os = "linux")]
pub mod kernel;
pub mod os;
pub mod passphrase;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;

pub use age::x25519::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreKind {
    /// The OS credential store: Secret Service, macOS Keychain, Windows Credential Manager.
    Os,
    /// An identity file encrypted with a passphrase (age scrypt).
    Passphrase,
    /// A plain identity file, mode 0600, like an SSH key.
    File,
}

impl crate::choice::Choice for KeyStoreKind {
    const ALL: &'static [Self] = &[
        KeyStoreKind::Os,
        KeyStoreKind::Passphrase,
        KeyStoreKind::File,
    ];
    fn name(self) -> &'static str {
        match self {
            KeyStoreKind::Os => "os",
            KeyStoreKind::Passphrase => "passphrase",
            KeyStoreKind::File => "file",
        }
    }
    fn help(self) -> Option<&'static str> {
        Some(match self {
            KeyStoreKind::Os => {
                "The OS credential store: Secret Service, macOS Keychain, Windows Credential Manager"
            }
            KeyStoreKind::Passphrase => "An identity file encrypted with a passphrase (age scrypt)",
            KeyStoreKind::File => "A plain identity file, mode 0600, like an SSH key",
        })
    }
}

crate::choice_text!(KeyStoreKind);

/// How long a stored identity survives, as keyring-core's `persistence()` says of its stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Persistence {
    /// Kept until deleted (a file, a Secret Service collection on disk).
    UntilDelete,
    /// Lost at reboot or logout (kernel keyring, an in-memory Secret Service).
    UntilReboot,
}

/// Longest wait for any keyring call: a Secret Service can hang.
pub const MAX_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeout for keyring calls: `KEYCHAIN_KEYRING_TIMEOUT` seconds (fractions allowed), never
/// more than [`MAX_KEYRING_TIMEOUT`].
pub fn keyring_timeout() -> Duration {
    keyring_timeout_from(std::env::var("KEYCHAIN_KEYRING_TIMEOUT").ok().as_deref())
}

fn keyring_timeout_from(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        // Capped before the conversion: a huge value would overflow a Duration and panic.
        .map(|s| Duration::from_secs_f64(s.min(MAX_KEYRING_TIMEOUT.as_secs_f64())))
        .unwrap_or(MAX_KEYRING_TIMEOUT)
}

pub trait KeyStore {
    fn kind(&self) -> KeyStoreKind;
    fn persistence(&self) -> Persistence;
    /// Keeps a new identity (at `init`); refuses to replace an existing one.
    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError>;
    /// Fetches the identity.
    fn load(&self) -> Result<Identity, KeyStoreError>;
}

/// The key store a keychain was initialised with.
pub fn for_kind(kind: KeyStoreKind, dir: &Path) -> Box<dyn KeyStore> {
    match kind {
        KeyStoreKind::Os => Box::new(os::OsKeyStore::new(dir)),
        KeyStoreKind::Passphrase => Box::new(passphrase::PassphraseKeyStore::new(dir)),
        KeyStoreKind::File => Box::new(file::FileKeyStore::new(dir)),
    }
}

/// The identity of the keychain in `dir`: from the `unlock` cache when present, else from the
/// configured store. The identity is checked against the configured public key, so that a wrong
/// identity is reported as such rather than as corrupt records.
pub fn load_identity(dir: &Path, config: &Config) -> Result<Identity, KeyStoreError> {
    #[cfg(target_os = "linux")]
    if let Some(identity) = kernel::cached(dir)?
        && identity.to_public().to_string() == config.recipient
    {
        return Ok(identity);
    }
    let identity = for_kind(config.key_store, dir).load()?;
    if identity.to_public().to_string() != config.recipient {
        return Err(KeyStoreError::WrongIdentity {
            store: config.key_store,
        });
    }
    Ok(identity)
}

/// Runs a keyring call on its own thread and gives up after the timeout; a hung call is left
/// behind (the process exits soon after) rather than hanging a cron job.
pub fn with_timeout<T: Send + 'static>(
    store: &'static str,
    work: impl FnOnce() -> Result<T, KeyStoreError> + Send + 'static,
) -> Result<T, KeyStoreError> {
    let timeout = keyring_timeout();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("keyring-call".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| KeyStoreError::Failed {
            store,
            reason: format!("cannot start a thread: {e}"),
        })?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(KeyStoreError::Timeout {
            store,
            waited: timeout,
        }),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("the {store} did not answer within {}", humantime::format_duration(*.waited))]
    Timeout {
        store: &'static str,
        waited: Duration,
    },
    #[error(
        "no D-Bus session bus: the Secret Service cannot be reached (DBUS_SESSION_BUS_ADDRESS is not set)"
    )]
    NoSessionBus,
    #[error("no Secret Service is running on the session bus")]
    NoSecretService,
    #[error("the Secret Service collection is locked")]
    SecretServiceLocked,
    #[error("the Secret Service has no default ('login') collection to keep the identity in")]
    NoCollection,
    #[error("the Secret Service wants to show an unlock prompt, which a script cannot answer")]
    PromptNeeded,
    #[error("the {store} holds no identity for this keychain (entry '{entry}')")]
    NoEntry { store: &'static str, entry: String },
    #[error("the {store} failed: {reason}")]
    Failed { store: &'static str, reason: String },
    #[error(
        "the keychain is locked: its passphrase is needed and there is no terminal to ask for it"
    )]
    PassphraseNeeded,
    #[error("wrong passphrase for {0}")]
    WrongPassphrase(std::path::PathBuf),
    #[error("cannot read the passphrase file {path}: {source}")]
    PassphraseFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("identity file {path}: {reason}")]
    IdentityFile {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("identity file {path} has mode {mode:04o}: others could read the key")]
    TooOpen { path: std::path::PathBuf, mode: u32 },
    #[error(
        "the identity in the {store} key store is not this keychain's (its public key differs from config.json)"
    )]
    WrongIdentity { store: KeyStoreKind },
    #[error("the {store} already holds an identity for this keychain")]
    AlreadyExists { store: &'static str },
    #[error("the kernel keyring failed: {0}")]
    Kernel(String),
}

impl KeyStoreError {
    pub fn hint(&self) -> String {
        match self {
            KeyStoreError::Timeout { .. } => "the Secret Service may be hung: restart it (e.g. 'gnome-keyring-daemon --replace'), or use 'keychain unlock' before cron jobs run".into(),
            KeyStoreError::NoSessionBus => "run inside a desktop session or 'dbus-run-session', or initialise with --key-store passphrase on servers without one".into(),
            KeyStoreError::NoSecretService => "start a Secret Service (e.g. 'gnome-keyring-daemon --start --components=secrets'), or initialise with --key-store passphrase".into(),
            KeyStoreError::NoCollection => "create and unlock a 'login' keyring (log in to the desktop once, or 'gnome-keyring-daemon --unlock' with a password on stdin), or use --key-store passphrase".into(),
            KeyStoreError::PromptNeeded => "unlock the login keyring in the desktop session first, or run 'keychain unlock' from a terminal before the job runs".into(),
            KeyStoreError::SecretServiceLocked => "unlock the login keyring (log in to the desktop, or 'gnome-keyring-daemon --unlock' with its password on stdin)".into(),
            KeyStoreError::NoEntry { .. } => "was the keychain initialised by another user or on another machine? Restore its identity, or create a new keychain with 'keychain init --dir NEWDIR'".into(),
            KeyStoreError::Failed { .. } | KeyStoreError::Kernel(_) => "check that the credential store works (e.g. 'secret-tool search keychain-test x'), then try again".into(),
            KeyStoreError::PassphraseNeeded => "set KEYCHAIN_PASSPHRASE_FILE to a file holding the passphrase (e.g. a systemd credential), or run 'keychain unlock' on a terminal first".into(),
            KeyStoreError::WrongPassphrase(_) => "try again with the right passphrase; nothing was changed".into(),
            KeyStoreError::PassphraseFile { .. } => "point KEYCHAIN_PASSPHRASE_FILE at a readable file".into(),
            KeyStoreError::IdentityFile { .. } => "restore the identity file from a backup; the records cannot be opened without it".into(),
            KeyStoreError::TooOpen { path, .. } => format!("run 'chmod 600 {}'", path.display()),
            KeyStoreError::WrongIdentity { .. } => "restore the right identity; this one cannot open the records".into(),
            KeyStoreError::AlreadyExists { .. } => "use the existing keychain, or choose another folder with --dir".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_timeout_never_panics_and_never_exceeds_its_cap() {
        assert_eq!(
            keyring_timeout_from(Some("0.5")),
            Duration::from_millis(500)
        );
        for v in [
            "1e300",
            "1e20",
            "18446744073709551616",
            "inf",
            "-3",
            "x",
            "",
        ] {
            assert_eq!(keyring_timeout_from(Some(v)), MAX_KEYRING_TIMEOUT, "{v}");
        }
        assert_eq!(keyring_timeout_from(None), MAX_KEYRING_TIMEOUT);
    }
}
