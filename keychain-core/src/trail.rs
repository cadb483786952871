//! Dissolved by issue 21: the audit key, the log's path and the fingerprints moved to
//! [`crate::audit`], the Keychain-facing methods to `keychain/audit_trail.rs`, the mapping of
//! [`AuditError`] into the top-level error to `error.rs`. What is left are the old paths the
//! other branches of issue 21 still use, for the merge; the lead removes them at the end.
#![deny(missing_docs)]

use secrecy::SecretString;

use crate::audit::{AuditError, AuditKey, Event};
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::keychain::Keychain;

// re-export for the merge (issue 21)
pub use crate::audit::{Action, LOG_FILE, Outcome, audit_key, log_of, offline, short_fingerprint};

/// The old `trail::lines`: the one reader is [`crate::audit::lines`].
pub mod lines {
    // re-export for the merge (issue 21)
    pub use crate::audit::lines::{Line, read_files};

    /// Every parseable line of the log, rotated files first: [`Keychain::audit_lines`].
    ///
    /// [`Keychain::audit_lines`]: crate::keychain::Keychain::audit_lines
    // re-export for the merge (issue 21)
    pub fn read(kc: &crate::keychain::Keychain) -> crate::error::Result<Vec<Line>> {
        kc.audit_lines()
    }
}

/// Starts the log of a new keychain: [`crate::audit::init`].
// re-export for the merge (issue 21)
pub fn init(
    dir: &std::path::Path,
    identity: &crate::keystore::Identity,
    clock: &SharedClock,
) -> Result<()> {
    Ok(crate::audit::init(dir, identity, clock)?)
}

/// Appends one event: [`Keychain::record`].
// re-export for the merge (issue 21)
pub fn record(kc: &Keychain, event: Event) -> Result<()> {
    kc.record(event)
}

/// Appends one event to the log in `dir`: [`crate::audit::record_in`].
// re-export for the merge (issue 21)
pub fn record_in(dir: &std::path::Path, clock: &SharedClock, event: Event) -> Result<()> {
    Ok(crate::audit::record_in(dir, clock, event)?)
}

/// [`Keychain::fingerprints`].
// re-export for the merge (issue 21)
pub fn fingerprints(
    kc: &Keychain,
    account: &crate::record::Account,
    event: Event,
) -> Result<Event> {
    kc.fingerprints(account, event)
}

/// [`Keychain::fingerprint_of`].
// re-export for the merge (issue 21)
pub fn fingerprint_of(kc: &Keychain, field: &str, value: &SecretString) -> Result<String> {
    kc.fingerprint_of(field, value)
}

/// [`Keychain::fingerprint_key`].
// re-export for the merge (issue 21)
pub fn fingerprint_key(kc: &Keychain) -> Result<AuditKey> {
    kc.fingerprint_key()
}

/// [`Keychain::short_fingerprint_of`].
// re-export for the merge (issue 21)
pub fn short_fingerprint_of(
    kc: &Keychain,
    field: crate::record::SecretField,
    value: &SecretString,
) -> Result<String> {
    kc.short_fingerprint_of(field, value)
}

/// The top-level error of an audit failure: its `From` in `error.rs`.
// re-export for the merge (issue 21)
pub fn audit_error(e: AuditError) -> Error {
    e.into()
}
