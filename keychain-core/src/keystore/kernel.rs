//! `keychain unlock`: the identity cached in the kernel's user keyring with a timeout, and the
//! small helpers any kernel-keyring cache of keychain uses ([`put`], [`get`], [`touch`],
//! [`remove_key`]): the derived-key cache of passphrase-file jobs ([`super::derived`]) and
//! OpenBao's caches go through the same ones.
//!
//! Later calls of the same user (cron jobs included) then need neither the passphrase nor a
//! Secret Service round trip, until the key times out or `keychain lock` removes it. The kernel
//! keeps keys out of swap and out of files; they vanish at reboot. Quotas are small (200 keys,
//! 20,000 bytes for non-root users), so only the identity (about 75 bytes) goes there.
//!
//! Every key these helpers make is readable by this user's processes and by nobody else's
//! (root aside): possessor all, user view/read/search/setattr/write, group and others nothing.
#![deny(missing_docs)]

use std::path::Path;

use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Identity, KeyStoreError};

/// The key's description: derived from the folder, so keychains never share a cached key.
pub fn description(dir: &Path) -> String {
    description_with("keychain", dir)
}

/// `<prefix>:<hash of the folder's absolute path>`: one key per keychain and purpose.
pub fn description_with(prefix: &str, dir: &Path) -> String {
    let folder = super::os::entry_user(dir);
    format!(
        "{prefix}:{}",
        &crate::encoding::hex(&Sha256::digest(folder.as_bytes()))[..32]
    )
}

fn user_keyring() -> Result<KeyRing, KeyStoreError> {
    KeyRing::from_special_id(KeyRingIdentifier::User, true)
        .map_err(|e| KeyStoreError::Kernel(format!("user keyring: {e}")))
}

/// Adds (or replaces the payload of) the user-keyring key `description`, readable by this
/// user's processes only, dropped by the kernel after `seconds`.
pub fn put(description: &str, payload: &[u8], seconds: u64) -> Result<(), KeyStoreError> {
    let ring = user_keyring()?;
    let key = ring
        .add_key(description, payload)
        .map_err(|e| KeyStoreError::Kernel(format!("cannot add the key: {e}")))?;
    // Readable by this user's processes even when they do not possess the key through their
    // session keyring (cron, systemd services), and by nobody else.
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::ALL)
        .user(
            Permission::VIEW
                | Permission::READ
                | Permission::SEARCH
                | Permission::SETATTR
                | Permission::WRITE,
        )
        .build();
    key.set_perms(perms)
        .map_err(|e| KeyStoreError::Kernel(format!("cannot set permissions: {e}")))?;
    key.set_timeout(usize::try_from(seconds).unwrap_or(usize::MAX))
        .map_err(|e| KeyStoreError::Kernel(format!("cannot set the timeout: {e}")))?;
    Ok(())
}

/// The payload of the user-keyring key `description`; `None` when there is none (or it
/// expired, was revoked, or is not ours to read).
pub fn get(description: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError> {
    let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, false) else {
        return Ok(None);
    };
    let key = match ring.search(description) {
        Ok(key) => key,
        Err(
            KeyError::KeyDoesNotExist
            | KeyError::KeyExpired
            | KeyError::KeyRevoked
            | KeyError::AccessDenied,
        ) => return Ok(None),
        Err(e) => {
            return Err(KeyStoreError::Kernel(format!(
                "cannot search the user keyring: {e}"
            )));
        }
    };
    match key.read_to_vec() {
        Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
        // Expired between search and read: as good as absent.
        Err(KeyError::KeyExpired | KeyError::KeyRevoked | KeyError::KeyDoesNotExist) => Ok(None),
        Err(e) => Err(KeyStoreError::Kernel(format!(
            "cannot read the cached key: {e}"
        ))),
    }
}

/// Gives the key `description` `seconds` more from now (a sliding timeout). Best effort: a key
/// that is gone or cannot be changed keeps its timeout.
pub fn touch(description: &str, seconds: u64) {
    if let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, false)
        && let Ok(key) = ring.search(description)
    {
        let _ = key.set_timeout(usize::try_from(seconds).unwrap_or(usize::MAX));
    }
}

/// Removes the user-keyring key `description`; true when there was one.
pub fn remove_key(description: &str) -> Result<bool, KeyStoreError> {
    let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, false) else {
        return Ok(false);
    };
    match ring.search(description) {
        Ok(key) => {
            key.invalidate()
                .map_err(|e| KeyStoreError::Kernel(format!("cannot remove the cached key: {e}")))?;
            Ok(true)
        }
        Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => Ok(false),
        Err(e) => Err(KeyStoreError::Kernel(format!(
            "cannot search the user keyring: {e}"
        ))),
    }
}

/// The payload's second line: when the kernel drops the key (Unix seconds), so that `status`
/// can say until when the keychain stays unlocked (the kernel does not tell its timeout back).
const EXPIRES: &str = "expires ";

/// A cached identity and, when the cache recorded it, when it expires (Unix seconds).
pub struct Cached {
    /// The cached identity.
    pub identity: Identity,
    /// Unix seconds at which the kernel drops the key; `None` when the payload does not say.
    pub expires: Option<i64>,
}

/// Caches `identity` for `seconds` from `now` (Unix seconds).
pub fn store(dir: &Path, identity: &Identity, seconds: u64, now: i64) -> Result<(), KeyStoreError> {
    let expires = now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
    let payload = Zeroizing::new(format!(
        "{}\n{EXPIRES}{expires}\n",
        identity.to_string().expose_secret()
    ));
    put(&description(dir), payload.as_bytes(), seconds)
}

/// The cached identity, if any.
pub fn cached(dir: &Path) -> Result<Option<Identity>, KeyStoreError> {
    Ok(cached_with_expiry(dir)?.map(|c| c.identity))
}

/// The cached identity with its expiry, if any.
pub fn cached_with_expiry(dir: &Path) -> Result<Option<Cached>, KeyStoreError> {
    let Some(bytes) = get(&description(dir))? else {
        return Ok(None);
    };
    let text = SecretString::from(String::from_utf8_lossy(&bytes).into_owned());
    let mut lines = text.expose_secret().lines();
    let Some(identity) = lines
        .next()
        .and_then(|l| super::file::parse_identity(l.trim()))
    else {
        return Ok(None);
    };
    let expires = lines
        .find_map(|l| l.strip_prefix(EXPIRES))
        .and_then(|t| t.trim().parse().ok());
    Ok(Some(Cached { identity, expires }))
}

/// Removes the cached identity of `keychain unlock` and the key a passphrase-file job derived
/// and cached ([`super::derived`]); true when there was either.
pub fn remove(dir: &Path) -> Result<bool, KeyStoreError> {
    let unlocked = remove_key(&description(dir))?;
    let derived = super::derived::forget(dir)?;
    Ok(unlocked || derived)
}
