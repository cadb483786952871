//! A token obtained by AppRole login, kept across runs in the kernel's user keyring until its
//! TTL (less a margin) runs out, so that each `keychain` process does not log in again.
//!
//! An AppRole login is the costliest call a cached `login` makes (OpenBao creates and stores a
//! token), and every process used to make one. The kernel keeps the token out of files, swap
//! and the environment; it times the key out with the token's TTL and drops it at reboot.
//! Every failure of the keyring (none in a container without keyctl, a full quota) only means
//! "not cached": the client then logs in as before. A token the server no longer accepts
//! (revoked, server restarted) is found by the client's 403 check, dropped here, and replaced
//! by one fresh login.
//!
//! The key's description is derived from the server's address and the role id and secret id
//! files, so two keychains with different credentials never share a token.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::auth::Token;

/// The payload's second line: when the token must no longer be used (Unix seconds); the
/// kernel's own timeout is the same, this guards a key whose timeout could not be set.
const USE_UNTIL: &str = "use-until ";

/// The key's description for one server and one AppRole's credential files.
pub(super) fn description(addr: &str, role_id_file: &Path, secret_id_file: &Path) -> String {
    let mut hash = Sha256::new();
    for part in [
        addr.as_bytes(),
        role_id_file.as_os_str().as_encoded_bytes(),
        secret_id_file.as_os_str().as_encoded_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    format!(
        "keychain-bao-token:{}",
        &crate::encoding::hex(&hash.finalize())[..32]
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Keeps `token` under `description` until its `use_until`; a token without one is not kept.
/// Best effort: a keyring that refuses only costs the next process a login.
pub(super) fn store(description: &str, token: &Token) {
    let Some(until) = token.use_until else { return };
    let seconds = until.saturating_duration_since(Instant::now()).as_secs();
    if seconds == 0 {
        return;
    }
    let _ = try_store(description, &token.secret, seconds);
}

fn try_store(description: &str, secret: &SecretString, seconds: u64) -> Result<(), KeyError> {
    let ring = KeyRing::from_special_id(KeyRingIdentifier::User, true)?;
    let payload = zeroize::Zeroizing::new(format!(
        "{}\n{USE_UNTIL}{}\n",
        secret.expose_secret(),
        unix_now().saturating_add(seconds)
    ));
    let key = ring.add_key(description, payload.as_bytes())?;
    // As for the `unlock` cache: this user's processes that do not possess the key through a
    // session keyring (cron, systemd services) may read it; nobody else may.
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
    let timed = key
        .set_perms(perms)
        .and_then(|()| key.set_timeout(usize::try_from(seconds).unwrap_or(usize::MAX)));
    if timed.is_err() {
        // A key that would outlive its token or be readable by others is not kept.
        let _ = key.invalidate();
    }
    timed
}

/// The token kept under `description`, while it may still be used.
pub(super) fn load(description: &str) -> Option<Token> {
    let ring = KeyRing::from_special_id(KeyRingIdentifier::User, false).ok()?;
    let key = ring.search(description).ok()?;
    let bytes = zeroize::Zeroizing::new(key.read_to_vec().ok()?);
    let text = SecretString::from(String::from_utf8_lossy(&bytes).into_owned());
    let mut lines = text.expose_secret().lines();
    let secret = lines.next().map(str::trim).filter(|t| !t.is_empty())?;
    let until: u64 = lines
        .find_map(|l| l.strip_prefix(USE_UNTIL))
        .and_then(|t| t.trim().parse().ok())?;
    let left = until.checked_sub(unix_now()).filter(|&s| s > 0)?;
    Some(Token {
        secret: SecretString::from(secret.to_string()),
        use_until: Some(Instant::now() + Duration::from_secs(left)),
    })
}

/// Drops the token kept under `description`, if any (the server refused it).
pub(super) fn remove(description: &str) {
    if let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, false)
        && let Ok(key) = ring.search(description)
    {
        let _ = key.invalidate();
    }
}
