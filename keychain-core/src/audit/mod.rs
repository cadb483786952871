//! The audit trail: a tamper-evident log of what keychain did. (The scanner for secrets left in
//! plain text in Invantive settings files is [`crate::invantive`].)
//!
//! # The log
//!
//! One JSON line per event in `audit.log`: time (RFC 3339, UTC), user name and uid, host, pid,
//! command, account, action (+ detail), outcome (+ reason), optional fingerprints, then `seq`,
//! `prev` (SHA-256 of the line before) and `mac` (HMAC-SHA256 over the line without its `mac`).
//! The log must never hold a secret value: callers log field names and [`fingerprint`]s only.
//!
//! **Keys and forward security.** [`AuditKey::derive`] turns the 32-byte per-keychain secret into
//! a fingerprint key and `k_0`. The line with seq `i` is MAC'd under `k_i`, where
//! `k_{i+1} = SHA-256(label || k_i)`. The current key sits in `audit.anchor` (mode 0600), so that
//! unattended processes can log without unlocking the keychain, and each append overwrites it with
//! the next key. Someone who steals `audit.anchor` later can therefore forge lines only from that
//! point on, never rewrite earlier ones; [`verify`] recomputes every key from `k_0`.
//!
//! **Anchor.** `audit.anchor` holds the number of lines written so far and the hash of the last,
//! MAC'd under the current key, written atomically after every line. Cutting lines off the end or
//! restoring an older copy of the log leaves the log shorter than (or different from) its anchor,
//! which both [`verify`] and the next append notice; the append then refuses to log (fail closed).
//!
//! **Concurrency.** An append takes an exclusive `flock` on `audit.lock` (a separate file because
//! rotation renames the log, and a process queued on the old file's lock would otherwise write
//! into the rotated file), reads only the last line by seeking back from the end, writes the new
//! line with one `write_all` on an `O_APPEND` file, fsyncs, updates the anchor, which carries the key state (via
//! temp file, fsync, rename, fsync of the folder), then releases the lock. A failed write is
//! taken back and returned as an error. All files are created with mode 0600.
//!
//! **Counter index.** `audit.index` keeps every account's last write counter up to a line of the
//! log, MAC'd under a key derived from the secret, so the replay check reads the lines after that
//! line only; see `index.rs` for why it is as strong as reading the whole log.
//!
//! **Rotation.** [`AuditLog::rotate`] renames the log to `audit.log.<N>` and starts a new one
//! with a `rotate` line that continues seq, key chain and hash chain, so [`verify`] over
//! [`AuditLog::files`] (oldest first) passes across the set.
//!
//! **Limits, said plainly.** (1) Whoever holds the per-keychain secret can recompute every key and
//! rewrite the whole log: this protects against an attacker who has the files, not the secret.
//! (2) Rolling back the log and the anchor together to an older consistent copy is not
//! detectable from inside the folder; copy the anchor elsewhere (a witness) to catch that.
//! (3) Old keys are overwritten by rename, but a file system may keep old blocks; forward security
//! assumes they are gone. (4) Deleting all three files is visible only as a missing log.
//! (5) Fingerprints of low-entropy values can be brute-forced by someone holding the secret.
#![deny(missing_docs)]

mod counter;
mod event;
mod format;
mod index;
mod key;
pub mod lines;
mod log;
#[cfg(test)]
pub mod memory;
pub mod offline;
mod shared;
mod verify;

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

use crate::exit::Failure as _;

pub use event::{Action, Event, Outcome, Stamp, user_at_host};
pub use index::{CounterSnapshot, Counters, STRIDE as INDEX_STRIDE};
pub use key::{AuditKey, audit_key, fingerprint, short_fingerprint};
pub use lines::Line;
pub use log::{AuditLog, Pending};
pub use shared::{
    COPY_FILE, KeylessTrail, SharedLog, Witnessed, copy_counters, copy_last_counter,
    witness_copy_end,
};
pub use verify::{Problem, ProblemKind, VerifyReport, verify, verify_chain};

/// How long an append waits for another process holding the log's lock unless the caller says
/// otherwise (`waiting_at_most`): the settings' default lock timeout, kept here so that the log
/// (a back end) does not read the configuration above it; a test holds the two equal.
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The audit log's file name inside the keychain folder.
pub const LOG_FILE: &str = "audit.log";

/// The file log of the keychain in `dir`, its lines stamped by `clock`.
pub fn log_of(dir: &std::path::Path, clock: &crate::clock::SharedClock) -> AuditLog {
    AuditLog::with_clock(dir.join(LOG_FILE), clock.clone())
}

/// Starts the file log of a new keychain in `dir`, keyed by its identity.
pub fn init(
    dir: &std::path::Path,
    identity: &age::x25519::Identity,
    clock: &crate::clock::SharedClock,
) -> Result<(), AuditError> {
    log_of(dir, clock).init(&audit_key(identity))
}

/// Appends one event to the file log of the keychain in `dir`, stamped by `clock` (for
/// commands that have no opened keychain: `init`, `scan`, `lock`).
pub fn record_in(
    dir: &std::path::Path,
    clock: &crate::clock::SharedClock,
    event: Event,
) -> Result<(), AuditError> {
    log_of(dir, clock).append(&event)
}

/// Where a keychain's events go: the file log of one machine ([`AuditLog`]) or the trail a
/// shared keychain keeps in its store ([`SharedLog`]). `Keychain` sees only this trait, so a
/// transaction (begin, write the record, commit the events) has one shape for both.
pub trait Trail: Send + Sync {
    /// Checks that the trail can take events and holds what it needs to append them (the
    /// local log's lock, the shared trail's tail), without writing anything yet.
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, AuditError>;

    /// Appends one event.
    fn append(&self, event: &Event) -> Result<(), AuditError> {
        self.begin()?.commit(std::slice::from_ref(event))
    }

    /// The write counter last recorded for `account`. See [`counter`].
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError>;

    /// Every account's last recorded write counter, in one pass.
    fn all_counters(&self) -> Result<std::collections::HashMap<String, u64>, AuditError>;

    /// The local files holding the trail's lines, oldest first, for reports (the shared trail's
    /// are this machine's copy, brought up to date first).
    fn files(&self) -> Result<Vec<PathBuf>, AuditError>;

    /// The newest group key generation a shared trail held at its last sync in this process
    /// (`None` for a trail without generations, or before a sync): a record MAC'd under a newer
    /// one was written after events this machine was not shown (a trail cut back).
    fn generation(&self) -> Option<u64> {
        None
    }

    /// Verifies every event: MACs, order, hash chain, and the end against what this machine
    /// saw. `key` is the local log's (a shared trail derives its own from the group key).
    fn verify(&self, key: &AuditKey) -> Result<VerifyReport, AuditError>;
}

/// The events of one transaction, appended by [`Transaction::commit`].
pub trait Transaction {
    /// The write counter last recorded for `account`, as the trail stands now.
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError>;
    /// Appends the events in order.
    fn commit(self: Box<Self>, events: &[Event]) -> Result<(), AuditError>;
}

/// What can go wrong while writing or reading the audit log. None of these carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Another process held the log's lock for the whole lock timeout (exit 5).
    #[error(transparent)]
    LockBusy(Box<crate::lockfile::LockBusy>),
    /// A log file could not be read or written.
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        /// What keychain was doing ("list", "rename the audit log", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// No log and no anchor: the keychain was never initialised (exit 2).
    #[error("the audit log is not initialised ({} is missing)", path.display())]
    NotInitialised {
        /// The anchor that is missing.
        path: PathBuf,
    },
    /// The log has lines but its key state is gone: starting over would hide what was there,
    /// so nothing is started.
    #[error("the audit log has lines but its key state {} is gone", path.display())]
    StateMissing {
        /// The key state file that is missing.
        path: PathBuf,
    },
    /// The log has lines but its anchor was removed; nothing is appended (fail closed).
    #[error("the audit anchor {} is missing", path.display())]
    AnchorMissing {
        /// The anchor that is missing.
        path: PathBuf,
    },
    /// A log, anchor or key state file that does not parse.
    #[error("{} is not in the expected format", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// The counter index's MAC does not check: it was edited, forged or copied from another
    /// keychain. It is not used and not overwritten (exit 7).
    #[error("the audit counter index {} does not authenticate (edited or forged)", path.display())]
    IndexForged {
        /// The index file.
        path: PathBuf,
    },
    /// The log ends in the middle of a line.
    #[error("{} ends with a partial line (a torn write?)", path.display())]
    PartialLine {
        /// The file.
        path: PathBuf,
    },
    /// The log is shorter than or different from what its anchor records: cut, or an older
    /// copy put back. Nothing is appended (fail closed).
    #[error("the audit log {} does not match its anchor: {detail}; nothing was logged", path.display())]
    Mismatch {
        /// The log.
        path: PathBuf,
        /// How it differs (line counts, hashes), never a line's content.
        detail: String,
    },
    /// `audit rotate` with no log to rotate.
    #[error("there is no audit log at {} to rotate", path.display())]
    NothingToRotate {
        /// Where the log was expected.
        path: PathBuf,
    },
    /// The shared trail's store failed (unreachable, sealed, forbidden); `code` is its exit code.
    #[error("{message}")]
    Store {
        /// The store's own message.
        message: String,
        /// The store error's exit code.
        code: i32,
    },
    /// A file beside the log could not be read or written, worded for the reader (the
    /// report's read of the log, the offline copy's marker and lock); the top-level error makes
    /// it its own I/O error.
    #[error("{context}: {source}")]
    File {
        /// What keychain was doing, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The offline copy's marker (how far this machine's offline events were copied into the
    /// shared trail) is not a number.
    #[error("{}: not a number: it says how far this machine's offline events were copied into the shared trail", path.display())]
    OfflineMarker {
        /// The marker file.
        path: PathBuf,
    },
    /// The shared trail does not continue what this machine saw, or an event does not check.
    #[error(
        "the shared audit trail at {location} {detail}; nothing was logged; run `keychain audit verify` and investigate"
    )]
    SharedMismatch {
        /// Where the trail is, as a location type and address (no secret).
        location: String,
        /// What does not continue or check.
        detail: String,
    },
}

impl AuditError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        if let AuditError::LockBusy(busy) = self {
            return busy.hint();
        }
        Some(
            match self {
                AuditError::LockBusy(_) => return None,
                AuditError::Io { .. } => {
                    "check that the keychain folder exists and is writable by you"
                }
                AuditError::NotInitialised { .. } => "run 'keychain init' first",
                AuditError::StateMissing { .. } => {
                    "run 'keychain audit verify' and start a new log only after investigating"
                }
                AuditError::AnchorMissing { .. } => {
                    "run 'keychain audit verify' to see what else was removed"
                }
                AuditError::Corrupt { .. } => {
                    "restore it from a backup, or run 'keychain audit verify' to see what is wrong"
                }
                AuditError::IndexForged { .. } => {
                    "run 'keychain audit verify'; the index is only a cache of the log: once the log checks, remove the index and keychain rebuilds it from the log"
                }
                AuditError::PartialLine { .. } => {
                    "run 'keychain audit verify' before logging again"
                }
                AuditError::Mismatch { .. } => "run 'keychain audit verify' and investigate",
                AuditError::SharedMismatch { .. } => "run 'keychain audit verify' and investigate",
                // The store's own message says what failed; the caller's general advice serves.
                AuditError::NothingToRotate { .. } | AuditError::Store { .. } => return None,
                // Converted into the top-level error's own variants, which carry their advice.
                AuditError::File { .. } | AuditError::OfflineMarker { .. } => return None,
            }
            .into(),
        )
    }
}
