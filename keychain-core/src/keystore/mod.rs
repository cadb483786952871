//! Where the age identity that opens the records is kept.
//!
//! The store is chosen once, at `keychain init`, and recorded in `config.json`; it is never
//! replaced by a weaker one behind the user's back. When the chosen store is missing, locked or
//! not answering, the error says which, why and what to do. A kernel-keyring cache
//! ([`kernel`], `keychain unlock`) may hold the identity for a while so that later calls need
//! neither a passphrase nor a Secret Service round trip; a job with a passphrase file derives
//! the key once for all of them ([`derived`]); a systemd service may be handed the identity
//! itself as an encrypted credential ([`credential`]).
#![deny(missing_docs)]

pub mod credential;
#[cfg(target_os = "linux")]
pub mod derived;
pub mod file;
#[cfg(target_os = "linux")]
pub mod kernel;
pub mod os;
pub mod passphrase;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

pub use age::x25519::Identity;

/// Which key store a keychain keeps its identity in: chosen at `init`, recorded in
/// `config.json`, never changed behind the user's back. The lowercase names are the ones
/// `--key-store` and `config.json` use.
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

pub use crate::settings::MAX_KEYRING_TIMEOUT;

/// How long a key derived from a job's passphrase file stays in the kernel keyring after its
/// last use ([`derived`], Linux): a job every two hours or more often never derives again; a
/// daily job derives once a day.
pub const DERIVED_KEY_IDLE: Duration = Duration::from_secs(2 * 3600);

/// A place that keeps one keychain's age identity. Implementations never log, print or put the
/// identity in an error, and fail with a [`KeyStoreError`] that says what to do rather than
/// fall back to another store.
pub trait KeyStore {
    /// Which store this is, as recorded in `config.json`.
    fn kind(&self) -> KeyStoreKind;
    /// How long what it keeps survives.
    fn persistence(&self) -> Persistence;
    /// Keeps a new identity (at `init`); refuses to replace an existing one.
    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError>;
    /// Fetches the identity.
    fn load(&self) -> Result<Identity, KeyStoreError>;
}

/// The key store a keychain was initialised with, its waits and passphrase source as `settings`
/// say.
pub fn for_kind(kind: KeyStoreKind, dir: &Path, settings: &Settings) -> Box<dyn KeyStore> {
    match kind {
        KeyStoreKind::Os => Box::new(os::OsKeyStore::new(dir, settings.keyring_timeout)),
        KeyStoreKind::Passphrase => Box::new(passphrase::PassphraseKeyStore::new(dir, settings)),
        KeyStoreKind::File => Box::new(file::FileKeyStore::new(dir)),
    }
}

/// Which identity a keychain expects: the key store that keeps it and its public key. The
/// configuration (above the key stores) says so: `&Config` converts into this, so the key stores
/// never read the configuration themselves.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The key store chosen at `init`.
    pub key_store: KeyStoreKind,
    /// The identity's public key (`age1...`).
    pub recipient: &'a str,
}

/// The identity of the keychain in `dir`: from the `unlock` cache when present, else from the
/// configured store. The identity is checked against the configured public key, so that a wrong
/// identity is reported as such rather than as corrupt records.
pub fn load_identity<'a>(
    dir: &Path,
    config: impl Into<Expected<'a>>,
    settings: &Settings,
) -> Result<Identity, KeyStoreError> {
    load_identity_noting(dir, config, settings, &mut None)
}

/// What loading the identity cost beyond a read: a derivation from the passphrase file, for
/// the audit log. `None` on other platforms, where nothing is derived once for many calls.
#[cfg(target_os = "linux")]
pub type Derivation = derived::Derivation;
/// What loading the identity cost beyond a read (nothing is cached on this platform).
#[cfg(not(target_os = "linux"))]
pub type Derivation = std::convert::Infallible;

/// [`load_identity`], saying in `derived` whether this call ran scrypt for the passphrase file
/// and how that ended. In order: the identity systemd handed to the service, the `unlock` cache,
/// the key derived earlier from the same passphrase file and identity file, the key store.
pub fn load_identity_noting<'a>(
    dir: &Path,
    config: impl Into<Expected<'a>>,
    settings: &Settings,
    derived: &mut Option<Derivation>,
) -> Result<Identity, KeyStoreError> {
    let config = config.into();
    if let Some(path) = &settings.identity_credential {
        return credential::load(path, config.recipient);
    }
    // The cached identity is told from a stale one by the public key recorded with it
    // (kernel::RECIPIENT), not derived again on every call.
    #[cfg(target_os = "linux")]
    if let Some(cached) = kernel::cached_with_expiry(dir)?
        && cached.is_for(config.recipient)
    {
        return Ok(cached.identity);
    }
    #[cfg(target_os = "linux")]
    if config.key_store == KeyStoreKind::Passphrase
        && settings.passphrase_file.is_some()
        && let Some(idle) = settings.derived_key_cache
    {
        return derived::load(dir, settings, config.recipient, idle, derived);
    }
    let _ = &derived;
    let identity = for_kind(config.key_store, dir, settings).load()?;
    if identity.to_public().to_string() != config.recipient {
        return Err(KeyStoreError::WrongIdentity {
            store: config.key_store,
        });
    }
    Ok(identity)
}

/// What [`start_load`] did about the identity ahead of its first use.
pub enum Started {
    /// The identity, at once: from the `unlock` cache, checked as [`load_identity`] checks it.
    Ready(Identity),
    /// Its read from the Secret Service, under way on a thread of its own; [`finish_load`]
    /// takes it.
    #[cfg(target_os = "linux")]
    Reading(os::Reading),
    /// Nothing: the ordinary [`load_identity`] at first use decides (another key store, an
    /// identity credential, a key derived from a passphrase file, another platform).
    Later,
}

/// Starts getting the identity before it is needed, where that only reads: the `unlock` cache
/// at once, or the Secret Service's read on a thread (its three round trips to the bus then
/// overlap the caller's reads of the log and the record). Only for the `os` store without an
/// identity credential: every other way in (a derivation, which is logged; a prompt) is left to
/// [`load_identity`], in its place and order.
pub fn start_load<'a>(dir: &Path, config: impl Into<Expected<'a>>, settings: &Settings) -> Started {
    let config = config.into();
    if settings.identity_credential.is_some() || config.key_store != KeyStoreKind::Os {
        return Started::Later;
    }
    #[cfg(target_os = "linux")]
    {
        match kernel::cached_with_expiry(dir) {
            Ok(Some(cached)) if cached.is_for(config.recipient) => Started::Ready(cached.identity),
            Ok(_) => {
                Started::Reading(os::OsKeyStore::new(dir, settings.keyring_timeout).start_read())
            }
            // The ordinary load reports it, in its place.
            Err(_) => Started::Later,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Started::Later
    }
}

/// The identity [`start_load`]'s read gave, checked against the configured public key as
/// [`load_identity`] checks it; `None` when only [`load_identity`] can tell (a locked entry).
#[cfg(target_os = "linux")]
pub fn finish_load(
    reading: os::Reading,
    recipient: &str,
) -> Option<Result<Identity, KeyStoreError>> {
    Some(reading.finish()?.and_then(|identity| {
        if identity.to_public().to_string() == recipient {
            Ok(identity)
        } else {
            Err(KeyStoreError::WrongIdentity {
                store: KeyStoreKind::Os,
            })
        }
    }))
}

/// Whether a job could open the keychain, when that is known without a KDF: the identity
/// credential systemd handed over, or the key derived earlier from the same passphrase file and
/// identity file. `None`: only asking the key store itself can tell. Never the `unlock` cache,
/// which says nothing about the job's own way in. Writes nothing.
pub fn answers_without_kdf<'a>(
    dir: &Path,
    config: impl Into<Expected<'a>>,
    settings: &Settings,
) -> Option<Result<(), KeyStoreError>> {
    let config = config.into();
    if let Some(path) = &settings.identity_credential {
        return Some(credential::load(path, config.recipient).map(drop));
    }
    #[cfg(target_os = "linux")]
    if config.key_store == KeyStoreKind::Passphrase
        && settings.passphrase_file.is_some()
        && settings.derived_key_cache.is_some()
    {
        return derived::check(dir, settings, config.recipient);
    }
    let _ = dir;
    None
}

/// Runs a keyring call on its own thread and gives up after `timeout`; a hung call is left
/// behind (the process exits soon after) rather than hanging a cron job.
pub fn with_timeout<T: Send + 'static>(
    store: &'static str,
    timeout: Duration,
    work: impl FnOnce() -> Result<T, KeyStoreError> + Send + 'static,
) -> Result<T, KeyStoreError> {
    start_call(store, timeout, work)?.wait()
}

/// A keyring call under way on a thread of its own ([`start_call`]), so that the caller can do
/// other work before it takes the answer with [`Call::wait`].
pub struct Call<T> {
    answer: std::sync::mpsc::Receiver<Result<T, KeyStoreError>>,
    store: &'static str,
    started: std::time::Instant,
    timeout: Duration,
}

/// Starts `work` on its own thread, to be given at most `timeout` from now.
pub fn start_call<T: Send + 'static>(
    store: &'static str,
    timeout: Duration,
    work: impl FnOnce() -> Result<T, KeyStoreError> + Send + 'static,
) -> Result<Call<T>, KeyStoreError> {
    let (tx, answer) = std::sync::mpsc::channel();
    let started = std::time::Instant::now();
    std::thread::Builder::new()
        .name("keyring-call".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| KeyStoreError::Failed {
            store,
            reason: format!("cannot start a thread: {e}"),
        })?;
    Ok(Call {
        answer,
        store,
        started,
        timeout,
    })
}

impl<T> Call<T> {
    /// The call's answer, or [`KeyStoreError::Timeout`] once `timeout` has passed since it
    /// started (the call is then left behind).
    pub fn wait(self) -> Result<T, KeyStoreError> {
        let left = self.timeout.saturating_sub(self.started.elapsed());
        match self.answer.recv_timeout(left) {
            Ok(result) => result,
            Err(_) => Err(KeyStoreError::Timeout {
                store: self.store,
                waited: self.timeout,
            }),
        }
    }
}

/// Why the identity could not be kept or fetched: which store, what happened, and (in
/// [`KeyStoreError::hint`]) what to do. Never holds the identity or a passphrase.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// A call did not return in time (a hung Secret Service); the call is abandoned.
    #[error("the {store} did not answer within {}", crate::text::duration(*.waited))]
    Timeout {
        /// The store, as people call it ("Secret Service").
        store: &'static str,
        /// How long keychain waited.
        waited: Duration,
    },
    /// `DBUS_SESSION_BUS_ADDRESS` is not set, so there is no Secret Service to ask.
    #[error(
        "no D-Bus session bus: the Secret Service cannot be reached (DBUS_SESSION_BUS_ADDRESS is not set)"
    )]
    NoSessionBus,
    /// The session bus is there, but nothing on it provides the Secret Service.
    #[error("no Secret Service is running on the session bus")]
    NoSecretService,
    /// The collection that holds the entry is locked.
    #[error("the Secret Service collection is locked")]
    SecretServiceLocked,
    /// There is no default (`login`) collection to keep the identity in.
    #[error("the Secret Service has no default ('login') collection to keep the identity in")]
    NoCollection,
    /// Unlocking would need a desktop prompt, which an unattended job cannot answer.
    #[error("the Secret Service wants to show an unlock prompt, which a script cannot answer")]
    PromptNeeded,
    /// The store answers but has no identity for this keychain's folder.
    #[error("the {store} holds no identity for this keychain (entry '{entry}')")]
    NoEntry {
        /// The store asked.
        store: &'static str,
        /// The entry looked for; may be empty when the store does not say.
        entry: String,
    },
    /// Any other failure of a store, with the store's own error text.
    #[error("the {store} failed: {reason}")]
    Failed {
        /// The store, or the step ("passphrase prompt").
        store: &'static str,
        /// What went wrong, in words.
        reason: String,
    },
    /// The passphrase store needs a passphrase, no passphrase file is set and there is no
    /// terminal to prompt on.
    #[error(
        "the keychain is locked: its passphrase is needed and there is no terminal to ask for it"
    )]
    PassphraseNeeded,
    /// The passphrase does not decrypt the identity file at this path. Never retried.
    #[error("wrong passphrase for {0}")]
    WrongPassphrase(std::path::PathBuf),
    /// The passphrase file (`KEYCHAIN_PASSPHRASE_FILE` or the systemd credential) cannot be
    /// read.
    #[error("cannot read the passphrase file {path}: {source}")]
    PassphraseFile {
        /// The passphrase file.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The identity file (`identity.txt` or `identity.age`) cannot be read, written or parsed.
    #[error("identity file {path}: {reason}")]
    IdentityFile {
        /// The identity file.
        path: std::path::PathBuf,
        /// What went wrong; never the file's content.
        reason: String,
    },
    /// A plain identity file its group or others may access; keychain refuses to use it.
    #[error("identity file {path} has mode {mode:04o}: others could read the key")]
    TooOpen {
        /// The identity file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The store holds an identity whose public key is not the `recipient` in `config.json`:
    /// it cannot open this keychain's records.
    #[error(
        "the identity in the {store} key store is not this keychain's (its public key differs from config.json)"
    )]
    WrongIdentity {
        /// The configured key store.
        store: KeyStoreKind,
    },
    /// `save` found an identity already kept for this folder; it is never replaced.
    #[error("the {store} already holds an identity for this keychain")]
    AlreadyExists {
        /// The store that holds it.
        store: &'static str,
    },
    /// `init` could not keep a new identity in the OS credential store (a server has none, or
    /// none this session reaches): the store's own error; `init` left nothing behind.
    #[error("the OS credential store cannot keep a new identity ({0}); nothing was created")]
    InitOsUnavailable(Box<KeyStoreError>),
    /// The kernel keyring (the `unlock` cache) failed; the text says which step.
    #[error("the kernel keyring failed: {0}")]
    Kernel(String),
    /// The identity credential systemd handed over (`$CREDENTIALS_DIRECTORY/keychain-identity`)
    /// cannot be used.
    #[error("the systemd credential {path}: {reason}")]
    Credential {
        /// The decrypted credential.
        path: std::path::PathBuf,
        /// What is wrong with it; never its content.
        reason: String,
    },
    /// Another process derived the key from the passphrase file for the whole lock timeout.
    #[error("{0}")]
    LockBusy(Box<crate::lockfile::LockBusy>),
}

impl crate::exit::Failure for KeyStoreError {
    /// Another process deriving the key for the whole wait is a lock, like every other; the
    /// rest is the key store's.
    fn class(&self) -> crate::exit::Class {
        match self {
            KeyStoreError::LockBusy(_) => crate::exit::Class::Unavailable,
            _ => crate::exit::Class::KeyStore,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            KeyStoreError::Timeout { .. } => "the Secret Service may be hung: restart it (e.g. 'gnome-keyring-daemon --replace'), or use 'keychain unlock' before cron jobs run".into(),
            KeyStoreError::NoSessionBus => "run inside a desktop session or 'dbus-run-session', or initialise with --key-store passphrase on servers without one".into(),
            KeyStoreError::NoSecretService => "start a Secret Service (e.g. 'gnome-keyring-daemon --start --components=secrets'), or initialise with --key-store passphrase".into(),
            KeyStoreError::NoCollection => "create and unlock a 'login' keyring (log in to the desktop once, or 'gnome-keyring-daemon --unlock' with a password on stdin), or use --key-store passphrase".into(),
            KeyStoreError::PromptNeeded => "unlock the login keyring in the desktop session first, or run 'keychain unlock' from a terminal before the job runs".into(),
            KeyStoreError::SecretServiceLocked => "unlock the login keyring (log in to the desktop, or 'gnome-keyring-daemon --unlock' with its password on stdin)".into(),
            KeyStoreError::NoEntry { .. } => "was the keychain initialised by another user or on another machine? Restore its identity, or create a new keychain with 'keychain init --dir NEWDIR'".into(),
            KeyStoreError::Failed { .. } | KeyStoreError::Kernel(_) => "check that the credential store works (e.g. 'secret-tool search keychain-test x'), then try again".into(),
            KeyStoreError::PassphraseNeeded => "set KEYCHAIN_PASSPHRASE_FILE to a file holding the passphrase (e.g. a systemd credential), or run 'keychain unlock' on a terminal first".into(),
            KeyStoreError::WrongPassphrase(_) => "try again with the right passphrase (a job: put it on the first line of its passphrase file); nothing was changed or cached".into(),
            KeyStoreError::PassphraseFile { .. } => "point KEYCHAIN_PASSPHRASE_FILE at a regular file only you can read (chmod 600), not a FIFO or a device".into(),
            KeyStoreError::IdentityFile { .. } => "restore the identity file from a backup; the records cannot be opened without it".into(),
            KeyStoreError::TooOpen { path, .. } => format!("run 'chmod 600 {}'", path.display()),
            KeyStoreError::WrongIdentity { .. } => "restore the right identity; this one cannot open the records".into(),
            KeyStoreError::AlreadyExists { .. } => "use the existing keychain, or choose another folder with --dir".into(),
            KeyStoreError::InitOsUnavailable(_) => "on a server (no desktop session or Secret Service): 'keychain init --key-store passphrase' (the passphrase from a prompt, or KEYCHAIN_PASSPHRASE_FILE for jobs; a systemd service can then be handed the identity as an encrypted credential: 'keychain help cron'), or --key-store file where the disk itself is protected; on a desktop, start or unlock its Secret Service and try again".into(),
            KeyStoreError::Credential { .. } => format!("make it again from the keychain, as root: 'keychain unlock --systemd-credential | systemd-creds encrypt --name={} - /etc/credstore.encrypted/{}' (see 'keychain help cron')", credential::CREDENTIAL_NAME, credential::CREDENTIAL_NAME),
            KeyStoreError::LockBusy(busy) => return busy.hint(),
        })
    }
}
