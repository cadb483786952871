//! How commands record what they did in the audit log, failing closed.
//!
//! The per-keychain audit secret is derived from the keychain's identity, so it needs no storage
//! of its own and whoever can open the records can verify the log. A command that reveals a
//! secret or hands out a token records the event **before** its output: when the log cannot be
//! written, nothing is printed. A change to a record is logged in the same transaction as its
//! write (`Keychain::commit`), with the record's write counter. `keychain totp` is recorded too
//! (one append). Read-only `list` and `show` without `--reveal` are not recorded.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::audit::{AuditError, AuditKey, AuditLog, Event, fingerprint};
use crate::error::{Error, Result, exit};
use crate::keychain::Keychain;
use crate::keystore::Identity;

pub use crate::audit::{Action, Outcome};

const LABEL: &[u8] = b"keychain audit secret v1";
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

pub fn log_of(dir: &std::path::Path) -> AuditLog {
    AuditLog::new(dir.join(LOG_FILE))
}

/// Starts the log of a new keychain.
pub fn init(dir: &std::path::Path, identity: &Identity) -> Result<()> {
    log_of(dir).init(&audit_key(identity)).map_err(audit_error)
}

/// Appends one event; an error here must fail the command.
pub fn record(kc: &Keychain, event: Event) -> Result<()> {
    record_in(&kc.dir, event)
}

/// Appends one event to the log of the keychain in `dir`.
pub fn record_in(dir: &std::path::Path, event: Event) -> Result<()> {
    log_of(dir).append(&event).map_err(audit_error)
}

/// The fingerprints of an account's password and TOTP secret, for its add/set events.
pub fn fingerprints(
    kc: &Keychain,
    account: &crate::record::Account,
    mut event: Event,
) -> Result<Event> {
    use crate::record::SecretField;
    let key = audit_key(kc.identity()?);
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

/// The fingerprint of a secret under this keychain's audit key, for matching leaked values.
pub fn fingerprint_of(kc: &Keychain, field: &str, value: &SecretString) -> Result<String> {
    Ok(fingerprint(&audit_key(kc.identity()?), field, value))
}

/// An audit failure is an integrity problem when the log was tampered with, an I/O one otherwise.
pub fn audit_error(e: AuditError) -> Error {
    let code = match e {
        AuditError::Io { .. } => exit::IO,
        AuditError::NotInitialised { .. } | AuditError::NothingToRotate { .. } => exit::USAGE,
        _ => exit::INTEGRITY,
    };
    Error::Audit { source: e, code }
}
