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

/// A payload line that records the cached identity's public key (`age1...`), derived from that
/// identity when it is cached ([`recipient_line`]), so that every later call can tell whether
/// the cached identity is this keychain's (`config.json`'s `recipient`) by comparing two
/// strings instead of deriving the key again (an X25519 base-point multiplication and its
/// encoding: ~220k instructions, about 7 % of an unlocked `totp`'s, callgrind).
///
/// Why this checks as much as the derivation did: the check tells this keychain's identity
/// from a stale one (the folder initialised again while the old identity was still cached);
/// it was never an authentication. Only [`recipient_line`] writes the line, next to the
/// identity it was derived from, in a key that only this user's processes (and root) can
/// write: whoever could write a mismatched line could as well write any identity. A payload
/// without the line (cached by an older keychain) is checked by deriving, as before.
pub const RECIPIENT: &str = "recipient ";

/// The payload line recording `identity`'s public key ([`RECIPIENT`]), newline included.
pub fn recipient_line(identity: &Identity) -> String {
    format!("{RECIPIENT}{}\n", identity.to_public())
}

/// Whether `identity`, cached with `recorded` as its public key ([`RECIPIENT`]; `None` when the
/// payload has no such line), is the identity whose public key is `recipient`.
pub fn is_for(identity: &Identity, recorded: Option<&str>, recipient: &str) -> bool {
    match recorded {
        Some(recorded) => recorded.trim() == recipient,
        None => identity.to_public().to_string() == recipient,
    }
}

/// A cached identity and, when the cache recorded it, when it expires (Unix seconds).
pub struct Cached {
    /// The cached identity.
    pub identity: Identity,
    /// Unix seconds at which the kernel drops the key; `None` when the payload does not say.
    pub expires: Option<i64>,
    /// The identity's public key as recorded when it was cached ([`RECIPIENT`]); `None` when
    /// the payload does not say.
    pub recipient: Option<String>,
}

impl Cached {
    /// Whether the cached identity is the one whose public key is `recipient` ([`is_for`]).
    pub fn is_for(&self, recipient: &str) -> bool {
        is_for(&self.identity, self.recipient.as_deref(), recipient)
    }
}

/// Caches `identity` for `seconds` from `now` (Unix seconds).
pub fn store(dir: &Path, identity: &Identity, seconds: u64, now: i64) -> Result<(), KeyStoreError> {
    let expires = now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
    let payload = Zeroizing::new(format!(
        "{}\n{EXPIRES}{expires}\n{}",
        identity.to_string().expose_secret(),
        recipient_line(identity)
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
    let (mut expires, mut recipient) = (None, None);
    for line in lines {
        if let Some(t) = line.strip_prefix(EXPIRES) {
            expires = t.trim().parse().ok();
        } else if let Some(r) = line.strip_prefix(RECIPIENT) {
            recipient = Some(r.trim().to_string());
        }
    }
    Ok(Some(Cached {
        identity,
        expires,
        recipient,
    }))
}

/// Removes the cached identity of `keychain unlock` and the key a passphrase-file job derived
/// and cached ([`super::derived`]); true when there was either.
pub fn remove(dir: &Path) -> Result<bool, KeyStoreError> {
    let unlocked = remove_key(&description(dir))?;
    let derived = super::derived::forget(dir)?;
    Ok(unlocked || derived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::{Expected, KeyStoreKind, load_identity};
    use crate::settings::Settings;

    /// A keychain folder of its own (its kernel key is named after the folder), and the key
    /// removed at the end.
    struct Folder(tempfile::TempDir);
    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = remove_key(&description(self.0.path()));
        }
    }

    fn load(folder: &Folder, recipient: &str) -> Option<Identity> {
        // A `file` store without its file: anything not served from the cache fails.
        let expected = Expected {
            key_store: KeyStoreKind::File,
            recipient,
        };
        load_identity(folder.0.path(), expected, &Settings::default()).ok()
    }

    fn public(identity: &Identity) -> String {
        identity.to_public().to_string()
    }

    fn secret(identity: &Identity) -> String {
        identity.to_string().expose_secret().to_string()
    }

    /// `unlock` records the identity's own public key with it, and later calls tell this
    /// keychain's identity from a stale one by that key: nothing is derived per call. A payload
    /// an older keychain cached (no key recorded) is still checked by deriving.
    #[test]
    fn a_cached_identity_is_told_apart_by_the_public_key_recorded_with_it() {
        let folder = Folder(tempfile::tempdir().unwrap());
        let dir = folder.0.path();
        let (mine, other) = (Identity::generate(), Identity::generate());

        store(dir, &mine, 60, 1_000).unwrap();
        let cached = cached_with_expiry(dir).unwrap().unwrap();
        assert_eq!(cached.recipient.as_deref(), Some(public(&mine).as_str()));
        assert_eq!(cached.expires, Some(1_060));
        assert_eq!(
            secret(&load(&folder, &public(&mine)).unwrap()),
            secret(&mine)
        );
        // A stale cache (the folder initialised again with another identity) is not served.
        assert!(load(&folder, &public(&other)).is_none());

        // The recorded key decides, not a derivation: a payload whose line says `other` is
        // served as `other`'s (only `store` writes the line, from the identity it caches).
        let recorded = format!(
            "{}\n{EXPIRES}1060\n{RECIPIENT}{}\n",
            secret(&mine),
            public(&other)
        );
        put(&description(dir), recorded.as_bytes(), 60).unwrap();
        assert_eq!(
            secret(&load(&folder, &public(&other)).unwrap()),
            secret(&mine)
        );
        assert!(load(&folder, &public(&mine)).is_none());

        // Cached by an older keychain, without the line: derived, as before.
        let old = format!("{}\n{EXPIRES}1060\n", secret(&mine));
        put(&description(dir), old.as_bytes(), 60).unwrap();
        assert_eq!(cached_with_expiry(dir).unwrap().unwrap().recipient, None);
        assert_eq!(
            secret(&load(&folder, &public(&mine)).unwrap()),
            secret(&mine)
        );
        assert!(load(&folder, &public(&other)).is_none());
    }
}
