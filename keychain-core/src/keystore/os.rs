//! The `os` key store: the identity as one entry of the OS credential store, through
//! keyring-core and one explicitly chosen platform store (no mock fallback can be built in).
//!
//! The entry's service is `keychain` and its user the keychain folder's absolute path, so that
//! several keychains (and parallel tests) on one machine never collide. Every call runs under
//! [`super::with_timeout`]: a Secret Service can hang.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// The `os` key store of one keychain folder: one entry (service `keychain`, user the folder's
/// absolute path) in the platform's credential store.
pub struct OsKeyStore {
    entry_user: String,
    /// The longest one call may take ([`Settings::keyring_timeout`](crate::settings::Settings)).
    timeout: Duration,
}

impl OsKeyStore {
    /// The store of the keychain in `dir`, each call given at most `timeout`; touches nothing
    /// until used.
    pub fn new(dir: &Path, timeout: Duration) -> Self {
        OsKeyStore {
            entry_user: entry_user(dir),
            timeout,
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
        with_timeout(STORE_NAME, self.timeout, move || {
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
        with_timeout(STORE_NAME, self.timeout, move || {
            read_identity(&user, Unlock::Ask)?.ok_or(KeyStoreError::SecretServiceLocked)
        })
    }
}

impl OsKeyStore {
    /// Starts reading the identity on a thread of its own, to be taken with
    /// [`Reading::finish`] where it is first needed: the Secret Service's round trips then
    /// overlap whatever the caller reads in the meantime. This read never unlocks a locked
    /// entry (that may show a prompt, and the caller may never need the identity): a locked
    /// one is left to [`KeyStore::load`].
    #[cfg(target_os = "linux")]
    pub fn start_read(&self) -> Reading {
        let user = self.entry_user.clone();
        let call = super::start_call(STORE_NAME, self.timeout, move || {
            read_identity(&user, Unlock::No)
        });
        // No thread: the ordinary load will say why.
        Reading(call.ok())
    }
}

/// The identity's read from the Secret Service, under way since [`OsKeyStore::start_read`].
#[cfg(target_os = "linux")]
pub struct Reading(Option<super::Call<Option<Identity>>>);

#[cfg(target_os = "linux")]
impl Reading {
    /// Its answer, within the store's timeout counted from the start (as [`with_timeout`]
    /// counts it): `None` when only the ordinary [`KeyStore::load`] can tell (the entry is
    /// locked, or no thread ran), so that nothing is decided here that the ordinary load would
    /// decide otherwise.
    pub fn finish(self) -> Option<Result<Identity, KeyStoreError>> {
        self.0?.wait().transpose()
    }
}

/// Whether a read may unlock a locked entry (which may need the service's prompt). Only the
/// Secret Service's early read ([`OsKeyStore::start_read`], Linux) reads without.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum Unlock {
    Ask,
    No,
}

/// The identity in the entry of `user`; `None` only with [`Unlock::No`] and a locked entry.
fn read_identity(user: &str, unlock: Unlock) -> Result<Option<Identity>, KeyStoreError> {
    let entry_name = format!("{SERVICE} / {user}");
    let text = match read_secret(user, unlock) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(KeyStoreError::NoEntry { store, .. }) => {
            return Err(KeyStoreError::NoEntry {
                store,
                entry: entry_name,
            });
        }
        Err(other) => return Err(other),
    };
    parse_identity(text.expose_secret().trim())
        .map(Some)
        .ok_or(KeyStoreError::Failed {
            store: STORE_NAME,
            reason: format!("the entry '{entry_name}' does not hold an age identity"),
        })
}

/// Reads the identity's entry: on Linux through a plain Secret Service session (see
/// [`plain_session`]), elsewhere through keyring-core's platform store. `None` only with
/// [`Unlock::No`] and a locked entry.
fn read_secret(user: &str, unlock: Unlock) -> Result<Option<SecretString>, KeyStoreError> {
    #[cfg(target_os = "linux")]
    {
        plain_session::read(user, unlock)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = unlock;
        let entry = OsKeyStore::entry(user)?;
        entry
            .get_password()
            .map(|text| Some(SecretString::from(text)))
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
/// its message and hint. `OpenSession` and `SearchItems` go out together (issue 24: one round
/// trip to the daemon fewer on every read of the identity); a locked match is read the way
/// dbus-secret-service reads it, with its unlock.
#[cfg(target_os = "linux")]
mod plain_session {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use dbus::arg::{RefArg, TypeMismatchError, Variant};
    use dbus::blocking::Connection;
    use dbus::channel::Channel;
    use dbus::strings::Path;
    use dbus::{Error as DbusError, Message};
    use dbus_secret_service::{EncryptionType, Error as ServiceError, Item, SecretService};
    use keyring_core::Error as KeyringError;
    use secrecy::SecretString;
    use zeroize::Zeroizing;

    use super::{KeyStoreError, SERVICE, STORE_NAME, Unlock, check_session_bus, classify};

    /// The Secret Service on the session bus (dbus-secret-service's `ss` constants are private).
    const SS_DEST: &str = "org.freedesktop.secrets";
    const SS_PATH: &str = "/org/freedesktop/secrets";

    /// How long each reply may take, as dbus-secret-service's proxies wait.
    const REPLY_TIMEOUT: Duration = Duration::from_millis(2000);

    /// One connection, then `OpenSession` and `SearchItems` sent together (they do not depend
    /// on each other: one round trip instead of two), then `GetSecret` of the one match. A
    /// locked match needs the service's unlock and its prompt: that rare case goes through
    /// [`read_through_service`], which does what this read did before.
    pub(super) fn read(user: &str, unlock: Unlock) -> Result<Option<SecretString>, KeyStoreError> {
        check_session_bus()?;
        let connection = Connection::new_session().map_err(dbus_error)?;
        let channel = connection.channel();
        let attributes = HashMap::from([("service", SERVICE), ("username", user)]);
        let open = service_call("OpenSession")?
            .append2("plain", Variant(Box::new(String::new()) as Box<dyn RefArg>));
        let search = service_call("SearchItems")?.append1(attributes);
        let open = channel.send(open).map_err(|()| not_sent())?;
        let search = channel.send(search).map_err(|()| not_sent())?;
        let mut answers = replies(channel, &[open, search])?.into_iter();
        let (Some(mut opened), Some(mut found)) = (answers.next(), answers.next()) else {
            return Err(not_sent());
        };
        let (_, session): (Variant<Box<dyn RefArg>>, Path<'_>) = opened
            .as_result()
            .map_err(dbus_error)?
            .read2()
            .map_err(mismatch)?;
        let (unlocked, locked): (Vec<Path<'_>>, Vec<Path<'_>>) = found
            .as_result()
            .map_err(dbus_error)?
            .read2()
            .map_err(mismatch)?;
        if !locked.is_empty() {
            drop(connection);
            return match unlock {
                Unlock::Ask => read_through_service(user).map(Some),
                Unlock::No => Ok(None),
            };
        }
        let item = match unlocked.as_slice() {
            [] => return Err(classify(KeyringError::NoEntry)),
            [item] => item.clone(),
            _ => return Err(more_than_one(user)),
        };
        let get =
            Message::new_method_call(SS_DEST, item, "org.freedesktop.Secret.Item", "GetSecret")
                .map_err(|e| decode(ServiceError::Dbus(DbusError::new_failed(&e))))?
                .append1(session);
        let get = channel.send(get).map_err(|()| not_sent())?;
        let mut reply = replies(channel, &[get])?.pop().ok_or_else(not_sent)?;
        let (_, _, value, _): (Path<'_>, Vec<u8>, Vec<u8>, String) = reply
            .as_result()
            .map_err(dbus_error)?
            .read1()
            .map_err(mismatch)?;
        secret_text(Zeroizing::new(value)).map(Some)
    }

    /// The read as dbus-secret-service makes it, one call after the other, with the unlock of
    /// locked matches.
    fn read_through_service(user: &str) -> Result<SecretString, KeyStoreError> {
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
            (Some(_), Some(_)) => return Err(more_than_one(user)),
        };
        secret_text(Zeroizing::new(item.get_secret().map_err(decode)?))
    }

    fn more_than_one(user: &str) -> KeyStoreError {
        KeyStoreError::Failed {
            store: STORE_NAME,
            reason: format!(
                "more than one item has service '{SERVICE}' and username '{user}': remove all but one with seahorse or secret-tool"
            ),
        }
    }

    fn secret_text(bytes: Zeroizing<Vec<u8>>) -> Result<SecretString, KeyStoreError> {
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyStoreError::Failed {
            store: STORE_NAME,
            reason: "the entry is not text, so it does not hold an age identity".into(),
        })?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// A method call to the service object.
    fn service_call(method: &str) -> Result<Message, KeyStoreError> {
        Message::new_method_call(SS_DEST, SS_PATH, "org.freedesktop.Secret.Service", method)
            .map_err(|e| decode(ServiceError::Dbus(DbusError::new_failed(&e))))
    }

    /// The replies to `serials`, in their order, each within [`REPLY_TIMEOUT`] (signals and
    /// other messages on the connection are skipped).
    fn replies(channel: &Channel, serials: &[u32]) -> Result<Vec<Message>, KeyStoreError> {
        channel.flush();
        let mut got: Vec<Option<Message>> = serials.iter().map(|_| None).collect();
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while got.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = channel
                .blocking_pop_message(left)
                .map_err(dbus_error)?
                .ok_or_else(|| {
                    dbus_error(DbusError::new_custom(
                        "org.freedesktop.DBus.Error.NoReply",
                        "the Secret Service did not reply in time",
                    ))
                })?;
            if let Some(i) = message
                .get_reply_serial()
                .and_then(|serial| serials.iter().position(|s| *s == serial))
            {
                got[i] = Some(message);
            }
        }
        Ok(got.into_iter().flatten().collect())
    }

    fn not_sent() -> KeyStoreError {
        dbus_error(DbusError::new_failed(
            "the message could not be sent on the session bus",
        ))
    }

    fn dbus_error(error: DbusError) -> KeyStoreError {
        decode(ServiceError::Dbus(error))
    }

    fn mismatch(error: TypeMismatchError) -> KeyStoreError {
        dbus_error(DbusError::from(error))
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
    with_timeout(STORE_NAME, super::MAX_KEYRING_TIMEOUT, move || {
        OsKeyStore::entry(&user)?
            .delete_credential()
            .map_err(classify)
    })
}
