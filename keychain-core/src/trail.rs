//! How commands record what they did in the audit log, failing closed.
//!
//! The per-keychain audit secret is derived from the keychain's identity, so it needs no storage
//! of its own and whoever can open the records can verify the log. A command that reveals a
//! secret or hands out a token records the event **before** its output: when the log cannot be
//! written, nothing is printed. A change to a record is logged in the same transaction as its
//! write (`Keychain::commit`), with the record's write counter. `keychain totp` is recorded too
//! (one append). Read-only `list` and `show` without `--reveal` are not recorded.
#![deny(missing_docs)]

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::audit::{AuditError, AuditKey, AuditLog, Event, fingerprint};
use crate::clock::SharedClock;
use crate::error::{Error, Result, exit};
use crate::keychain::Keychain;
use crate::keystore::Identity;

pub use crate::audit::{Action, Outcome};

pub mod lines;
pub mod offline;

const LABEL: &[u8] = b"keychain audit secret v1";
/// The audit log's file name inside the keychain folder.
pub const LOG_FILE: &str = "audit.log";

/// The 32-byte audit secret of the keychain whose identity this is.
pub fn audit_key(identity: &Identity) -> AuditKey {
    let id = identity.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(id.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(LABEL);
    let secret = SecretBox::new(Box::new(<[u8; 32]>::from(mac.finalize().into_bytes())));
    AuditKey::derive(&secret)
}

/// The audit log of the keychain in `dir`, its lines stamped by `clock`.
pub fn log_of(dir: &std::path::Path, clock: &SharedClock) -> AuditLog {
    AuditLog::with_clock(dir.join(LOG_FILE), clock.clone())
}

/// Starts the log of a new keychain.
pub fn init(dir: &std::path::Path, identity: &Identity, clock: &SharedClock) -> Result<()> {
    log_of(dir, clock)
        .init(&audit_key(identity))
        .map_err(audit_error)
}

/// Appends one event; an error here must fail the command.
pub fn record(kc: &Keychain, event: Event) -> Result<()> {
    kc.record(event)
}

/// Appends one event to the log of the keychain in `dir`, stamped by `clock`.
pub fn record_in(dir: &std::path::Path, clock: &SharedClock, event: Event) -> Result<()> {
    log_of(dir, clock).append(&event).map_err(audit_error)
}

/// The fingerprints of an account's password and TOTP secret, for its add/set events.
pub fn fingerprints(
    kc: &Keychain,
    account: &crate::record::Account,
    mut event: Event,
) -> Result<Event> {
    use crate::record::SecretField;
    let key = fingerprint_key(kc)?;
    for field in [
        SecretField::Password,
        SecretField::TotpSecret,
        SecretField::ClientSecret,
        SecretField::RefreshToken,
    ] {
        if let Some(value) = account.secret(field) {
            event = event.fingerprint(field.as_str(), fingerprint(&key, field.as_str(), value));
        }
    }
    Ok(event)
}

/// The fingerprint of a secret under this keychain's fingerprint key ([`fingerprint_key`]), for
/// matching leaked values.
pub fn fingerprint_of(kc: &Keychain, field: &str, value: &SecretString) -> Result<String> {
    Ok(fingerprint(&fingerprint_key(kc)?, field, value))
}

/// The key secrets' fingerprints are keyed with. A shared keychain's comes from the current
/// group key, which every member holds: the same value gives the same fingerprint on every
/// machine, so an officer can compare what two machines show (`fp:...`) and what the shared
/// trail holds. It changes when a member is removed (the group key is rotated: a removed member
/// must not be able to test guesses against new fingerprints). Any other keychain's comes from
/// its own identity. The group key is the one this machine's pin names; the member list need
/// not authenticate for a fingerprint (reading goes on when a planted list stops sealing).
pub fn fingerprint_key(kc: &Keychain) -> Result<AuditKey> {
    if kc.trail_in_store()
        && let Some(shared) = kc.shared()
    {
        let secret = match kc.members() {
            Ok(Some(opened)) => Some(opened.key.audit_secret()),
            _ => shared.trail_secrets(kc.identity()?)?.pop().flatten(),
        };
        if let Some(secret) = secret {
            return Ok(AuditKey::derive(&secret));
        }
    }
    Ok(audit_key(kc.identity()?))
}

/// How a secret is shown to a person: `fp:` and the first 6 hex digits of its audit fingerprint.
///
/// 24 bits are enough to tell a handful of values apart and to match the full fingerprint that
/// `keychain audit fingerprint` prints, and they say nothing about the value to anyone without
/// the keychain's key (who could read the value itself anyway).
pub fn short_fingerprint_of(
    kc: &Keychain,
    field: crate::record::SecretField,
    value: &SecretString,
) -> Result<String> {
    Ok(short_fingerprint(&fingerprint_of(
        kc,
        field.as_str(),
        value,
    )?))
}

/// The short form of a full hex fingerprint.
pub fn short_fingerprint(full: &str) -> String {
    format!("fp:{}", &full[..SHORT_FINGERPRINT_HEX.min(full.len())])
}

const SHORT_FINGERPRINT_HEX: usize = 6;

/// An audit failure is an integrity problem when the log was tampered with, an I/O one otherwise.
pub fn audit_error(e: AuditError) -> Error {
    let code = match e {
        AuditError::Io { .. } => exit::IO,
        // Like an account's lock: another process holds it; try again later.
        AuditError::LockBusy(_) => exit::UNAVAILABLE,
        AuditError::NotInitialised { .. } | AuditError::NothingToRotate { .. } => exit::USAGE,
        // The shared trail's store: unreachable or sealed (5), forbidden (8), no token (6).
        AuditError::Store { code, .. } => code,
        _ => exit::INTEGRITY,
    };
    Error::Audit { source: e, code }
}
