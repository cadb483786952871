//! Appending to the audit log: one lock, one line, one fsync, then the anchor with the key state.
//!
//! Order of writes in [`AuditLog::append`], and why: the line goes first (a crash then leaves a
//! line the anchor does not know yet, which the next append recognises by its MAC and adopts),
//! then the anchor (MAC'd under the next key) together with the next key, in one file. Every
//! crash point leaves files that the next append can reconcile; anything else is treated as
//! tampering and refused (the caller fails closed).
//!
//! Durability: one fsync per line. The line is `fdatasync`'d before [`AuditLog::append`]
//! returns, so an event is on disk before the secret it records is handed out. The anchor is
//! then replaced by rename without an fsync of its own: a power loss can leave the previous
//! anchor, one line behind, which is the state a crash between line and anchor leaves and which
//! the next append adopts. It cannot fall further behind on a journalling file system (ext4,
//! XFS): the next line's `fdatasync` commits the journal, and with it the earlier rename. ext4
//! (data=ordered) also writes a file renamed over another before that commit; where that does
//! not hold, a power loss may leave the anchor empty, and appends then fail closed. The README's
//! threat model says what this assumes.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::AuditError;
use super::event::{Action, Event, Origin, Stamp};
use super::format::{
    Anchor, Record, checkpoint_text, encode_line, parse_anchor, parse_line, parse_state,
};
pub(crate) use super::format::{GENESIS, MAX_LINE};
use super::key::{AuditKey, MacKey, line_hash};
use super::verify::{VerifyReport, verify};
use crate::clock::SharedClock;
use crate::fsutil::{
    FILE_MODE, parent_of, private_options, replace_unsynced, sync_dir, write_atomic_unique,
};

mod append;
mod files;

use append::Cursor;
pub(crate) use files::{io_err, lock_file, read_anchor, read_sized, read_tail, whole_lines_len};
use files::{mismatch, read_anchor_file, write_checkpoint};

/// The audit log of one keychain: `audit.log` plus `audit.anchor` and `audit.lock` beside it,
/// and rotated files `audit.log.1`, `audit.log.2`, ...
///
/// The anchor and the current MAC key (the "state") live in one file, `audit.anchor`, replaced
/// atomically once per line: an append then costs one fsync (the line; see the module docs)
/// instead of three, which matters because every reveal and every login appends. Readers of the
/// anchor ignore the key; the file is 0600 like everything else in the keychain folder.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// What each line's `time` says.
    clock: SharedClock,
    log: PathBuf,
    anchor: PathBuf,
    state: PathBuf,
    lock: PathBuf,
    /// How long to wait for another process holding `audit.lock` (`--lock-timeout`).
    lock_timeout: std::time::Duration,
}

impl AuditLog {
    /// The log at `path` (normally `<keychain folder>/audit.log`), its lines stamped with the
    /// system clock. Does no I/O.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_clock(path, crate::clock::system())
    }

    /// The log at `path`, its lines stamped by `clock`. Does no I/O.
    pub fn with_clock(path: impl Into<PathBuf>, clock: SharedClock) -> Self {
        let log = path.into();
        AuditLog {
            clock,
            anchor: log.with_extension("anchor"),
            state: log.with_extension("anchor"),
            lock: log.with_extension("lock"),
            log,
            lock_timeout: super::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The same log, waiting at most `timeout` for another process that holds its lock.
    pub fn waiting_at_most(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Path of the live log file.
    pub fn path(&self) -> &Path {
        &self.log
    }

    /// Path of the anchor file (next seq, hash of the last line, MAC).
    pub fn anchor_path(&self) -> &Path {
        &self.anchor
    }

    /// Starts the key chain at `k_0` so that appends can run without the per-keychain secret.
    ///
    /// Does nothing when the log is already initialised; refuses when the log has lines but its
    /// anchor (which holds the key state) is gone, because restarting the chain would hide
    /// whatever happened.
    pub fn init(&self, key: &AuditKey) -> Result<(), AuditError> {
        let _lock = self.lock()?;
        if self.state.exists() {
            return Ok(());
        }
        if fs::metadata(&self.log)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            return Err(AuditError::StateMissing {
                path: self.state.clone(),
            });
        }
        let k0 = key.mac_root();
        write_checkpoint(&self.anchor, 0, GENESIS, &k0)
    }

    /// Appends one event as one line. Safe to call from many processes at once.
    ///
    /// An error means the event was not logged; the caller should fail the command.
    pub fn append(&self, event: &Event) -> Result<(), AuditError> {
        self.begin()?.commit(std::slice::from_ref(event))
    }

    /// Takes the log's lock and checks that log and anchor agree, without writing anything yet.
    ///
    /// This is the first half of a keychain transaction: a change to a record is made only
    /// after `begin` succeeded (so a damaged or missing anchor refuses the change before it is
    /// saved), and its events are written by [`Pending::commit`] while the lock is still held,
    /// so no other line can slip in between and the log cannot change state meanwhile.
    pub fn begin(&self) -> Result<Pending<'_>, AuditError> {
        let lock = self.lock()?;
        let cursor = self.cursor()?;
        Ok(Pending {
            log: self,
            _lock: lock,
            cursor,
        })
    }

    /// The last write counter recorded for every account, in one pass over all files.
    pub fn all_counters(&self) -> Result<std::collections::HashMap<String, u64>, AuditError> {
        super::counter::all_counters(&self.files()?)
    }

    /// The write counter the log last recorded for `account` (newest file first, read from the
    /// end), or `None` when no line about it carries one. See [`super::counter`].
    pub fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        let mut files = self.files()?;
        files.reverse();
        super::counter::last_counter(&files, account)
    }

    /// Appends events with the time, user and host given by the caller, under one lock, with
    /// one fsync at the end: a trail of 100,000 events in a second instead of hours.
    ///
    /// For building trails with known patterns (tests, the report benchmark) and, later, for
    /// carrying events recorded by another machine. It can write nothing that a holder of
    /// `audit.anchor` (which every appending process reads) could not write by hand, and every
    /// line is chained and MAC'd like any other. A crash in the middle leaves more lines than the
    /// anchor knows, which the next append refuses as a mismatch: do not use it on a live log
    /// that commands write to at the same time as a crash could happen.
    pub fn append_stamped<'e>(
        &self,
        events: impl IntoIterator<Item = (&'e Event, &'e Stamp)>,
    ) -> Result<(), AuditError> {
        let _lock = self.lock()?;
        let mut cursor = self.cursor()?;
        let mut buffer = Vec::new();
        for (event, stamp) in events {
            let origin = stamp.origin();
            let (line, hash) = self.encode(&cursor, event, &origin, stamp.time)?;
            buffer.extend_from_slice(&line);
            cursor = Cursor {
                next_seq: cursor.next_seq + 1,
                last_hash: hash,
                key: cursor.key.next(),
            };
        }
        self.append_synced(&buffer)?;
        write_checkpoint(
            &self.anchor,
            cursor.next_seq,
            &cursor.last_hash,
            &cursor.key,
        )
    }

    /// Moves the live log to `audit.log.<N>` (N one above the highest so far) and starts a new
    /// log whose first line (`rotate`) chains to the old log's last line. Returns the new name of
    /// the old log.
    pub fn rotate(&self) -> Result<PathBuf, AuditError> {
        let _lock = self.lock()?;
        let cursor = self.cursor()?;
        let rotated = self.rotated_files()?;
        let n = rotated.last().map(|(n, _)| n + 1).unwrap_or(1);
        let target = PathBuf::from(format!("{}.{n}", self.log.display()));
        if !self.log.exists() {
            return Err(AuditError::NothingToRotate {
                path: self.log.clone(),
            });
        }
        fs::rename(&self.log, &target).map_err(|e| io_err("rename the audit log", &self.log, e))?;
        sync_dir(&parent_of(&self.log)).map_err(|e| io_err("sync", &self.log, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.write_line(cursor, &Event::new("rotate", Action::Rotate(name)))?;
        Ok(target)
    }

    /// The rotated files, oldest first, then the live log: the order [`verify`] expects.
    pub fn files(&self) -> Result<Vec<PathBuf>, AuditError> {
        let mut files: Vec<PathBuf> = self.rotated_files()?.into_iter().map(|(_, p)| p).collect();
        if self.log.exists() {
            files.push(self.log.clone());
        }
        Ok(files)
    }

    /// Verifies all files of this log (rotated and live) against the anchor.
    pub fn verify(&self, key: &AuditKey) -> Result<VerifyReport, AuditError> {
        verify(&self.files()?, Some(&self.anchor), key)
    }

    /// Checks order, hash chain and anchor without the key (no MACs).
    pub fn verify_chain(&self) -> Result<VerifyReport, AuditError> {
        super::verify::verify_chain(&self.files()?, Some(&self.anchor))
    }

    fn rotated_files(&self) -> Result<Vec<(u64, PathBuf)>, AuditError> {
        let dir = parent_of(&self.log);
        let Some(base) = self
            .log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            return Ok(Vec::new());
        };
        let prefix = format!("{base}.");
        let mut found = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(io_err("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(n) = name
                .strip_prefix(&prefix)
                .and_then(|s| s.parse::<u64>().ok())
            {
                found.push((n, self.log.with_file_name(&name)));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Takes the exclusive lock. A separate lock file, because the log itself is renamed by
    /// rotation: a process waiting on the old file's lock would then append to the rotated file.
    fn lock(&self) -> Result<crate::lockfile::Held, AuditError> {
        lock_file(&self.lock, "the audit log", self.lock_timeout)
    }
}

/// The audit log locked and checked by [`AuditLog::begin`], ready to take the events of one
/// transaction. Dropping it without committing writes nothing and releases the lock.
pub struct Pending<'a> {
    log: &'a AuditLog,
    _lock: crate::lockfile::Held,
    cursor: Cursor,
}

impl Pending<'_> {
    /// The write counter last recorded for `account`, read while the lock is held.
    pub fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        self.log.last_counter(account)
    }

    /// Appends the events, in order, then releases the lock.
    pub fn commit(self, events: &[Event]) -> Result<(), AuditError> {
        let mut cursor = self.cursor;
        for event in events {
            cursor = self.log.write_line(cursor, event)?;
        }
        Ok(())
    }
}

impl super::Trail for AuditLog {
    fn begin(&self) -> Result<Box<dyn super::Transaction + '_>, AuditError> {
        Ok(Box::new(AuditLog::begin(self)?))
    }

    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        AuditLog::last_counter(self, account)
    }

    fn all_counters(&self) -> Result<std::collections::HashMap<String, u64>, AuditError> {
        AuditLog::all_counters(self)
    }

    fn files(&self) -> Result<Vec<PathBuf>, AuditError> {
        AuditLog::files(self)
    }

    fn verify(&self, key: &AuditKey) -> Result<VerifyReport, AuditError> {
        AuditLog::verify(self, key)
    }
}

impl super::Transaction for Pending<'_> {
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        Pending::last_counter(self, account)
    }

    fn commit(self: Box<Self>, events: &[Event]) -> Result<(), AuditError> {
        Pending::commit(*self, events)
    }
}
