//! The key a job derived from its passphrase file, kept in the kernel keyring: scrypt runs once,
//! not per call, and never in two processes at once (single flight).
//!
//! A `passphrase` key store costs scrypt's second and hundreds of MiB per derivation by design.
//! Cron jobs that name a passphrase file (`KEYCHAIN_PASSPHRASE_FILE`, `--passphrase-file`) would
//! pay that on every call, and 32 jobs started together would need 32 times the memory. So:
//!
//! 1. A call reads the passphrase file and `identity.age` (a few hundred bytes) and computes
//!    their [`tag`]. A kernel-keyring key of this keychain that carries the same tag serves the
//!    identity: no KDF. Its idle timeout starts again ([`super::kernel::touch`]).
//! 2. Otherwise the call takes `key.lock` in the keychain folder (waiting at most
//!    `--lock-timeout`), looks again (another process may have just derived it), and only then
//!    runs scrypt, caches the identity with the tag, and lets the waiters read it.
//! 3. A passphrase that does not open `identity.age` is never cached: a `refused` mark with its
//!    tag is, so that waiting processes fail at once instead of each running scrypt on the same
//!    wrong passphrase (a rejected password is never retried). It stops serving as soon as the
//!    passphrase file or `identity.age` changes.
//!
//! The tag binds the cached key to the file's content: a changed passphrase, a rotated
//! identity (a new `identity.age`) or a passphrase file that is gone stops the cache at once,
//! and the next call derives again (or fails). Only a passphrase file the user names is cached
//! this way: that file is readable by this user's processes at any time, so the cached key adds
//! no reader. A passphrase systemd hands to one service run (`$CREDENTIALS_DIRECTORY`) is not:
//! cached, the key would outlive the run and reach the user's other processes; services use
//! the identity credential instead ([`super::credential`]).
//!
//! It must never cache an identity that does not match `config.json`, log or print the
//! identity, the passphrase or the tag.
#![deny(missing_docs)]

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::passphrase::{PassphraseKeyStore, passphrase};
use super::{Identity, KeyStoreError, KeyStoreKind};
use crate::settings::Settings;

/// How long a derived key stays cached after its last use.
pub const IDLE: Duration = super::DERIVED_KEY_IDLE;

/// The lock file (in the keychain folder) under which one process derives the key.
pub const LOCK_FILE: &str = "key.lock";

/// The kernel-keyring description's prefix; the rest names the folder
/// ([`super::kernel::description_with`]).
pub const PREFIX: &str = "keychain-derived";

const TAG_LABEL: &[u8] = b"keychain derived-key cache v1\n";
const TAG_LINE: &str = "tag ";
const REFUSED_LINE: &str = "refused ";

/// What a call did beyond reading a cached key: it ran scrypt. For the audit log, which
/// records every derivation (an `unlock` event) as it records `keychain unlock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derivation {
    /// Derived and cached for (at most) this long after the last use.
    Cached(Duration),
    /// Derived, but the kernel keyring did not take it (the reason, without secrets).
    NotCached(String),
    /// The passphrase did not open the identity; marked as refused, nothing cached.
    Refused,
}

/// The description of the derived key of the keychain in `dir`.
pub fn description(dir: &Path) -> String {
    super::kernel::description_with(PREFIX, dir)
}

/// The tag of a passphrase and an encrypted identity file: SHA-256 over a label, the
/// passphrase (length first) and the SHA-256 of the file. Whoever can read the cached key
/// can read the passphrase file itself, so the tag tells them nothing new.
fn tag(pass: &SecretString, ciphertext: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(TAG_LABEL);
    let bytes = pass.expose_secret().as_bytes();
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
    hash.update(Sha256::digest(ciphertext));
    crate::encoding::hex(&hash.finalize())
}

/// What the kernel keyring holds for a tag.
enum Found {
    /// Nothing for this tag (nothing at all, or a key for another passphrase or file).
    Nothing { stale: bool },
    /// The identity this passphrase opened, and its public key as recorded when it was cached
    /// ([`super::kernel::RECIPIENT`]; `None` in a key cached before that was recorded).
    Identity(Identity, Option<String>),
    /// This passphrase did not open this file.
    Refused,
}

fn lookup(dir: &Path, tag: &str) -> Result<Found, KeyStoreError> {
    let Some(bytes) = super::kernel::get(&description(dir))? else {
        return Ok(Found::Nothing { stale: false });
    };
    let text = SecretString::from(String::from_utf8_lossy(&bytes).into_owned());
    let mut lines = text.expose_secret().lines();
    let first = lines.next().unwrap_or("");
    if let Some(refused) = first.strip_prefix(REFUSED_LINE) {
        return Ok(if crate::secret::ct_eq_str(refused.trim(), tag) {
            Found::Refused
        } else {
            Found::Nothing { stale: true }
        });
    }
    let Some(identity) = super::file::parse_identity(first.trim()) else {
        return Ok(Found::Nothing { stale: true });
    };
    let (mut cached_tag, mut recorded) = ("", None);
    for line in lines {
        if let Some(t) = line.strip_prefix(TAG_LINE) {
            cached_tag = t;
        } else if let Some(r) = line.strip_prefix(super::kernel::RECIPIENT) {
            recorded = Some(r.trim().to_string());
        }
    }
    Ok(if crate::secret::ct_eq_str(cached_tag.trim(), tag) {
        Found::Identity(identity, recorded)
    } else {
        Found::Nothing { stale: true }
    })
}

/// The identity of the `passphrase` key store of the keychain in `dir`, with the passphrase from
/// `settings`' passphrase file: from the kernel keyring when this file and `identity.age` were
/// derived before, else derived by exactly one process at a time and cached for `idle` after
/// its last use. `derived` says whether this call ran scrypt, and how it ended.
pub fn load(
    dir: &Path,
    settings: &Settings,
    recipient: &str,
    idle: Duration,
    derived: &mut Option<Derivation>,
) -> Result<Identity, KeyStoreError> {
    let store = PassphraseKeyStore::new(dir, settings);
    let pass = match passphrase(settings.passphrase_file.as_deref(), "", false) {
        Ok(pass) => pass,
        Err(e) => {
            // The file that vouched for the cached key is gone or unreadable: so is the key.
            let _ = forget(dir);
            return Err(e);
        }
    };
    let ciphertext = store.ciphertext()?;
    let tag = tag(&pass, &ciphertext);
    let desc = description(dir);
    let served = |found: Found| -> Option<Result<Identity, KeyStoreError>> {
        match found {
            // Checked by the public key recorded with it, as the unlock cache is
            // (super::kernel::RECIPIENT): no derivation per call.
            Found::Identity(identity, recorded) => {
                if !super::kernel::is_for(&identity, recorded.as_deref(), recipient) {
                    return Some(Err(KeyStoreError::WrongIdentity {
                        store: KeyStoreKind::Passphrase,
                    }));
                }
                super::kernel::touch(&desc, idle.as_secs());
                Some(Ok(identity))
            }
            Found::Refused => Some(Err(KeyStoreError::WrongPassphrase(
                store.path().to_path_buf(),
            ))),
            Found::Nothing { .. } => None,
        }
    };
    if let Some(result) = served(lookup(dir, &tag)?) {
        return result;
    }
    let _held = crate::lockfile::acquire(
        &dir.join(LOCK_FILE),
        "the key's derivation from the passphrase file",
        settings.lock_timeout,
    )
    .map_err(|e| match e {
        crate::lockfile::LockError::Busy(busy) => KeyStoreError::LockBusy(Box::new(busy)),
        crate::lockfile::LockError::Io { what, path, source } => KeyStoreError::Failed {
            store: "key lock",
            reason: format!("cannot {what} {}: {source}", path.display()),
        },
    })?;
    // Lock, then look again: the process that held the lock may have derived it just now.
    match lookup(dir, &tag)? {
        Found::Nothing { stale: true } => {
            // Another passphrase or another identity file: that key no longer has a file
            // vouching for it.
            let _ = super::kernel::remove_key(&desc);
        }
        found => {
            if let Some(result) = served(found) {
                return result;
            }
        }
    }
    match store.decrypt(&ciphertext, pass) {
        Ok(identity) => {
            if identity.to_public().to_string() != recipient {
                return Err(KeyStoreError::WrongIdentity {
                    store: KeyStoreKind::Passphrase,
                });
            }
            let payload = zeroize::Zeroizing::new(format!(
                "{}\n{TAG_LINE}{tag}\n{}",
                identity.to_string().expose_secret(),
                super::kernel::recipient_line(&identity)
            ));
            *derived = Some(
                match super::kernel::put(&desc, payload.as_bytes(), idle.as_secs()) {
                    Ok(()) => Derivation::Cached(idle),
                    Err(e) => Derivation::NotCached(e.to_string()),
                },
            );
            Ok(identity)
        }
        Err(KeyStoreError::WrongPassphrase(path)) => {
            let mark = format!("{REFUSED_LINE}{tag}\n");
            let _ = super::kernel::put(&desc, mark.as_bytes(), idle.as_secs());
            *derived = Some(Derivation::Refused);
            Err(KeyStoreError::WrongPassphrase(path))
        }
        Err(e) => Err(e),
    }
}

/// Whether the passphrase file opens the keychain, as far as the kernel keyring already knows
/// without running scrypt: `Some(Ok)` when this file and `identity.age` were derived to this
/// keychain's identity, `Some(Err)` when they were refused, `None` when it does not know. Reads
/// only; caches, locks and logs nothing (for `status`).
pub fn check(
    dir: &Path,
    settings: &Settings,
    recipient: &str,
) -> Option<Result<(), KeyStoreError>> {
    let store = PassphraseKeyStore::new(dir, settings);
    let pass = match passphrase(settings.passphrase_file.as_deref(), "", false) {
        Ok(pass) => pass,
        Err(e) => return Some(Err(e)),
    };
    let ciphertext = match store.ciphertext() {
        Ok(bytes) => bytes,
        Err(e) => return Some(Err(e)),
    };
    match lookup(dir, &tag(&pass, &ciphertext)) {
        Ok(Found::Identity(identity, recorded))
            if super::kernel::is_for(&identity, recorded.as_deref(), recipient) =>
        {
            Some(Ok(()))
        }
        Ok(Found::Identity(..)) => Some(Err(KeyStoreError::WrongIdentity {
            store: KeyStoreKind::Passphrase,
        })),
        Ok(Found::Refused) => Some(Err(KeyStoreError::WrongPassphrase(
            store.path().to_path_buf(),
        ))),
        Ok(Found::Nothing { .. }) | Err(_) => None,
    }
}

/// Removes the derived key (or refused mark) of the keychain in `dir`; true when there was one.
pub fn forget(dir: &Path) -> Result<bool, KeyStoreError> {
    super::kernel::remove_key(&description(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_changes_with_the_passphrase_and_with_the_file() {
        let a = SecretString::from("correct horse".to_string());
        let b = SecretString::from("correct horsf".to_string());
        let t = tag(&a, b"file one");
        assert_eq!(t, tag(&a, b"file one"));
        assert_ne!(t, tag(&b, b"file one"));
        assert_ne!(t, tag(&a, b"file two"));
        assert_eq!(t.len(), 64);
    }
}
