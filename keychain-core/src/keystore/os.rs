//! The `os` key store: the identity as one entry of the OS credential store, through
//! keyring-core and one explicitly chosen platform store (no mock fallback can be built in).
//!
//! The entry's service is `keychain` and its user the keychain folder's absolute path, so that
//! several keychains (and parallel tests) on one machine never collide. Every call runs under
//! [`super::with_timeout`]: a Secret Service can hang.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use secrecy::{ExposeSecret, SecretString};

use super::file::parse_identity;
use super::{Identity, KeyStore, KeyStoreError, KeyStoreKind, Persistence, with_timeout};

const SERVICE: &str = "keychain";

#[cfg(target_os = "linux")]
const STORE_NAME: &str = "Secret Service";
#[cfg(target_os = "macos")]
const STORE_NAME: &str = "macOS Keychain";
#[cfg(target_os = "windows")]
const STORE_NAME: &str = "Windows Credential Manager";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const STORE_NAME: &str = "OS credential store";

pub struct OsKeyStore {
    entry_user: String,
}

impl OsKeyStore {
    pub fn new(dir: &Path) -> Self {
        OsKeyStore {
            entry_user: entry_user(dir),
        }
    }
}

/// The entry is named after the folder's absolute path.
pub fn entry_user(dir: &Path) -> String {
    let absolute: PathBuf = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute.to_string_lossy().into_owned()
}

/// Connects to the platform's store. Only the explicitly enabled platform store exists here.
fn platform_store() -> Result<Arc<CredentialStore>, KeyStoreError> {
    #[cfg(target_os = "linux")]
    {
        check_session_bus()?;
        let store = dbus_secret_service_keyring_store::Store::new().map_err(classify)?;
        Ok(store)
    }
    #[cfg(target_os = "macos")]
    {
        Ok(apple_native_keyring_store::keychain::Store::new().map_err(classify)?)
    }
    #[cfg(target_os = "windows")]
    {
        Ok(windows_native_keyring_store::Store::new().map_err(classify)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        Err(KeyStoreError::Failed {
            store: STORE_NAME,
            reason: "no OS credential store on this platform".into(),
        })
    }
}

/// Without a session bus libdbus would try to auto-launch one, which can hang or spawn daemons.
#[cfg(target_os = "linux")]
fn check_session_bus() -> Result<(), KeyStoreError> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR")
        && Path::new(&runtime).join("bus").exists()
    {
        return Ok(());
    }
    Err(KeyStoreError::NoSessionBus)
}

/// Turns keyring-core's errors into ones that say what happened and what to do.
fn classify(error: KeyringError) -> KeyStoreError {
    match error {
        KeyringError::NoEntry => KeyStoreError::NoEntry {
            store: STORE_NAME,
            entry: String::new(),
        },
        KeyringError::NoStorageAccess(inner) => {
            // The Secret Service says "no result" when there is no default (login) collection,
            // and asks for a prompt (which a script cannot show) when it is locked.
            let text = inner.to_string();
            if text.contains("no result") {
                KeyStoreError::NoCollection
            } else if text.contains("prompt") {
                KeyStoreError::PromptNeeded
            } else {
                KeyStoreError::SecretServiceLocked
            }
        }
        other => {
            let reason = other.to_string();
            if reason.contains("ServiceUnknown")
                || reason.contains("was not provided by any .service files")
            {
                KeyStoreError::NoSecretService
            } else if reason.contains("locked") || reason.contains("prompt") {
                KeyStoreError::SecretServiceLocked
            } else {
                KeyStoreError::Failed {
                    store: STORE_NAME,
                    reason,
                }
            }
        }
    }
}

impl OsKeyStore {
    fn entry(user: &str) -> Result<Entry, KeyStoreError> {
        let store = platform_store()?;
        Entry::new_in_store(&store, SERVICE, user).map_err(classify)
    }
}

impl KeyStore for OsKeyStore {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::Os
    }

    fn persistence(&self) -> Persistence {
        Persistence::UntilDelete
    }

    fn save(&self, identity: &Identity) -> Result<(), KeyStoreError> {
        let user = self.entry_user.clone();
        let secret = identity.to_string();
        with_timeout(STORE_NAME, move || {
            let entry = OsKeyStore::entry(&user)?;
            match entry.get_password() {
                Ok(existing) => {
                    drop(SecretString::from(existing));
                    return Err(KeyStoreError::AlreadyExists { store: STORE_NAME });
                }
                Err(KeyringError::NoEntry) => {}
                Err(e) => return Err(classify(e)),
            }
            entry.set_password(secret.expose_secret()).map_err(classify)
        })
    }

    fn load(&self) -> Result<Identity, KeyStoreError> {
        let user = self.entry_user.clone();
        let entry_name = format!("{SERVICE} / {user}");
        let text = with_timeout(STORE_NAME, move || read_secret(&user)).map_err(|e| match e {
            KeyStoreError::NoEntry { store, .. } => KeyStoreError::NoEntry {
                store,
                entry: entry_name.clone(),
            },
            other => other,
        })?;
        parse_identity(text.expose_secret().trim()).ok_or(KeyStoreError::Failed {
            store: STORE_NAME,
            reason: format!("the entry '{entry_name}' does not hold an age identity"),
        })
    }
}

/// Reads the identity's entry: on Linux through a plain Secret Service session (see
/// [`plain_session`]), elsewhere through keyring-core's platform store.
fn read_secret(user: &str) -> Result<SecretString, KeyStoreError> {
    #[cfg(target_os = "linux")]
    {
        plain_session::read(user)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let entry = OsKeyStore::entry(user)?;
        entry
            .get_password()
            .map(SecretString::from)
            .map_err(classify)
    }
}

/// The read on the hot path (every `totp`, `show`, `login` without `unlock`), through an
/// unencrypted ("plain") Secret Service session.
///
/// keyring-core's Secret Service store always negotiates a `dh-ietf1024-sha256-aes128-cbc-pkcs7`
/// session: about 5 ms of a 10 ms `totp` went to making the key pair, the daemon's half and the
/// shared secret. That encryption protects the secret only from someone who can read the
/// messages on the session bus, and the bus is private to the user: anyone who can read them
/// can also simply ask the daemon for the item (the Secret Service has no per-application
/// access control). So the read takes the plain session; the README's threat model says so.
/// Writing the entry (`init`, once) still goes through keyring-core, so where and how the item
/// is created stays as it was.
///
/// The search, the unlock of locked matches and the choice of exactly one item are the same
/// as keyring-core's store, and errors go through the same [`classify`], so each failure keeps
/// its message and hint.
#[cfg(target_os = "linux")]
mod plain_session {
    use std::collections::HashMap;

    use dbus_secret_service::{EncryptionType, Error as ServiceError, Item, SecretService};
    use keyring_core::Error as KeyringError;
    use secrecy::SecretString;
    use zeroize::Zeroizing;

    use super::{KeyStoreError, SERVICE, STORE_NAME, check_session_bus, classify};

    pub(super) fn read(user: &str) -> Result<SecretString, KeyStoreError> {
        check_session_bus()?;
        let service = SecretService::connect(EncryptionType::Plain).map_err(decode)?;
        let attributes = HashMap::from([("service", SERVICE), ("username", user)]);
        let found = service.search_items(attributes).map_err(decode)?;
        if !found.locked.is_empty() {
            let locked: Vec<&Item<'_>> = found.locked.iter().collect();
            service.unlock_all(&locked).map_err(decode)?;
        }
        let mut items = found.unlocked.iter().chain(found.locked.iter());
        let item = match (items.next(), items.next()) {
            (None, _) => return Err(classify(KeyringError::NoEntry)),
            (Some(item), None) => item,
            (Some(_), Some(_)) => {
                return Err(KeyStoreError::Failed {
                    store: STORE_NAME,
                    reason: format!(
                        "more than one item has service '{SERVICE}' and username '{user}': remove all but one with seahorse or secret-tool"
                    ),
                });
            }
        };
        let bytes = Zeroizing::new(item.get_secret().map_err(decode)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyStoreError::Failed {
            store: STORE_NAME,
            reason: "the entry is not text, so it does not hold an age identity".into(),
        })?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// The same mapping as keyring-core's store makes, so [`classify`] sees the same errors.
    fn decode(error: ServiceError) -> KeyStoreError {
        let no_access = matches!(
            error,
            ServiceError::Locked | ServiceError::NoResult | ServiceError::Prompt
        );
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        if no_access {
            classify(KeyringError::NoStorageAccess(boxed))
        } else {
            classify(KeyringError::PlatformFailure(boxed))
        }
    }
}

/// Removes this keychain's entry (used by tests and by a future `keychain destroy`).
pub fn delete_entry(dir: &Path) -> Result<(), KeyStoreError> {
    let user = entry_user(dir);
    with_timeout(STORE_NAME, move || {
        OsKeyStore::entry(&user)?
            .delete_credential()
            .map_err(classify)
    })
}
