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
            lock_timeout: crate::settings::DEFAULT_LOCK_TIMEOUT,
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

    /// Under the lock: where the next line goes (seq, prev, key), after checking that log,
    /// anchor and state agree (allowing exactly the states a crash between writes leaves).
    ///
    /// A partial last line is one of those states: a process killed in the middle of its
    /// `write` (a write crossing a page boundary can be cut short) leaves part of a line that
    /// neither the anchor nor any caller ever relied on, since nothing is revealed before the
    /// line is whole and synced. Refusing it would stop every audited command (every login) of
    /// the keychain until an officer acts, so it is moved aside into a file of its own, kept as
    /// evidence, and a `torn_tail` line records that. Cutting into a whole line still fails
    /// below: the log then ends a line before the anchor.
    fn cursor(&self) -> Result<Cursor, AuditError> {
        let torn = self.set_aside_torn_tail()?;
        let cursor = self.checked_cursor()?;
        match torn {
            None => Ok(cursor),
            Some(kept) => {
                let name = kept
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.write_line(cursor, &Event::new("audit", Action::TornTail(name)))
            }
        }
    }

    /// Moves the bytes after the live log's last newline into `audit.log-torn-<time>` (0600,
    /// synced) and cuts the log back to its last whole line; returns the new file's path.
    fn set_aside_torn_tail(&self) -> Result<Option<PathBuf>, AuditError> {
        let mut file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.log)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &self.log, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| io_err("read the size of", &self.log, e))?
            .len();
        let whole = whole_lines_len(&mut file, len).map_err(|e| io_err("read", &self.log, e))?;
        let Some(whole) = whole else {
            // Longer than any line of ours: not a torn append; `checked_cursor` refuses it.
            return Ok(None);
        };
        if whole == len {
            return Ok(None);
        }
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(whole))
            .and_then(|_| file.read_to_end(&mut tail))
            .map_err(|e| io_err("read", &self.log, e))?;
        let now = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let kept = self.log.with_file_name(format!(
            "{}-torn-{now}",
            self.log.file_name().unwrap_or_default().to_string_lossy()
        ));
        write_atomic_unique(&kept, &tail, FILE_MODE).map_err(|e| io_err("write", &kept, e))?;
        file.set_len(whole)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_err("cut the partial line from", &self.log, e))?;
        Ok(Some(kept))
    }

    fn checked_cursor(&self) -> Result<Cursor, AuditError> {
        // The key state and the anchor share one file since issue 12: read it once per append.
        let Some(text) = read_anchor_file(&self.state)? else {
            // A log with lines but no anchor was not "never initialised": the anchor was removed.
            return Err(if self.files()?.is_empty() {
                AuditError::NotInitialised {
                    path: self.state.clone(),
                }
            } else {
                AuditError::AnchorMissing {
                    path: self.anchor.clone(),
                }
            });
        };
        let state = parse_state(&text).map_err(|()| AuditError::Corrupt {
            path: self.state.clone(),
        })?;
        let anchor = parse_anchor(&text).map_err(|()| AuditError::Corrupt {
            path: self.anchor.clone(),
        })?;
        let tail = match read_tail(&self.log)? {
            Some(tail) => Some(tail),
            // An empty live log right after a rotation: the chain continues from the newest
            // rotated file, which must still end where the anchor says.
            None if anchor.next_seq > 0 => match self.rotated_files()?.last() {
                Some((_, path)) => read_tail(path)?,
                None => None,
            },
            None => None,
        };
        let tail = tail.map(|t| parse_line(&t).map(|p| (p, line_hash(&t))));
        let tail = match tail {
            Some(Ok(t)) => Some(t),
            Some(Err(_)) => {
                return Err(mismatch(
                    &self.log,
                    "its last line is not a valid audit record",
                ));
            }
            None => None,
        };
        let (log_next, log_hash) = match &tail {
            Some((p, hash)) => (p.seq + 1, hash.clone()),
            None => (0, GENESIS.to_string()),
        };

        let mut key = state.key;
        let mut key_before = None;
        if state.next_seq + 1 == log_next {
            // A crash after the line was written: adopt it only if it carries our MAC.
            let (p, _) = tail.as_ref().expect("log_next > 0 means a tail");
            if !key.verify_line(&p.unsigned, &p.mac) {
                return Err(mismatch(
                    &self.log,
                    "its last line does not carry the expected MAC",
                ));
            }
            let next = key.next();
            key_before = Some(key);
            key = next;
        } else if state.next_seq != log_next {
            return Err(mismatch(
                &self.log,
                &format!(
                    "it ends before seq {log_next} but the key state expects seq {}",
                    state.next_seq
                ),
            ));
        }

        let anchor_ok = if anchor.next_seq == log_next {
            crate::secret::ct_eq_str(
                &key.mac_anchor(anchor.next_seq, &anchor.last_hash),
                &anchor.mac,
            ) && anchor.last_hash == log_hash
        } else if anchor.next_seq + 1 == log_next {
            // A crash after the line, before the anchor: the anchor is one line behind.
            match (&key_before, &tail) {
                (Some(kb), Some((p, _))) => {
                    crate::secret::ct_eq_str(
                        &kb.mac_anchor(anchor.next_seq, &anchor.last_hash),
                        &anchor.mac,
                    ) && anchor.last_hash == p.prev
                }
                _ => false,
            }
        } else {
            false
        };
        if !anchor_ok {
            return Err(mismatch(
                &self.log,
                &format!(
                    "the anchor records {} but the log has {log_next} (truncated or rolled back?)",
                    crate::text::count(anchor.next_seq as usize, "line", "lines")
                ),
            ));
        }
        Ok(Cursor {
            next_seq: log_next,
            last_hash: log_hash,
            key,
        })
    }

    /// Under the lock: whole lines at the end of the live log, `fdatasync`'d (and the folder
    /// synced when the log was created). One `write_all` on an `O_APPEND` file under the lock, so
    /// lines never interleave; after a failed write the partial line is taken back at once (a
    /// process killed in the middle leaves it to [`AuditLog::cursor`]).
    fn append_synced(&self, lines: &[u8]) -> Result<(), AuditError> {
        let created = !self.log.exists();
        let mut file = private_options()
            .append(true)
            .create(true)
            .open(&self.log)
            .map_err(|e| io_err("open", &self.log, e))?;
        let len_before = file
            .metadata()
            .map_err(|e| io_err("read the size of", &self.log, e))?
            .len();
        if let Err(e) = file.write_all(lines).and_then(|()| file.sync_data()) {
            let _ = file.set_len(len_before);
            return Err(io_err("write to", &self.log, e));
        }
        if created {
            sync_dir(&parent_of(&self.log)).map_err(|e| io_err("sync", &self.log, e))?;
        }
        Ok(())
    }

    /// Under the lock: writes one line at the cursor, then the anchor and the state; returns
    /// the cursor for the next line.
    fn write_line(&self, cursor: Cursor, event: &Event) -> Result<Cursor, AuditError> {
        let origin = Origin::current();
        let (line, hash) = self.encode(&cursor, event, &origin, self.clock.now())?;
        self.append_synced(&line)?;
        let next_key = cursor.key.next();
        let next_seq = cursor.next_seq + 1;
        // The line is durable now: the event is recorded. The anchor is replaced atomically but
        // not fsync'd (see the module docs): after a power loss it is at most this one line
        // behind, which the next append reconciles exactly like a crash before this write.
        let text = checkpoint_text(next_seq, &hash, &next_key);
        replace_unsynced(&self.anchor, &text, FILE_MODE)
            .map_err(|e| io_err("write", &self.anchor, e))?;
        Ok(Cursor {
            next_seq,
            last_hash: hash,
            key: next_key,
        })
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

impl AuditLog {
    /// One line at the cursor, with its newline, and the hash the next line chains to.
    fn encode(
        &self,
        cursor: &Cursor,
        event: &Event,
        origin: &Origin,
        time: std::time::SystemTime,
    ) -> Result<(Vec<u8>, String), AuditError> {
        let record = Record::new(
            event,
            origin,
            time,
            cursor.next_seq,
            &cursor.last_hash,
            None,
        );
        let (mut line, hash) = encode_line(&record, |unsigned| cursor.key.mac_line(unsigned))
            .map_err(|e| AuditError::Io {
                what: "encode an audit line for",
                path: self.log.clone(),
                source: io::Error::other(e),
            })?;
        line.push(b'\n');
        Ok((line, hash))
    }
}

struct Cursor {
    next_seq: u64,
    last_hash: String,
    key: MacKey,
}

/// Writes the anchor and the key state together, atomically and durably: one file, one rename.
fn write_checkpoint(
    path: &Path,
    next_seq: u64,
    last_hash: &str,
    key: &MacKey,
) -> Result<(), AuditError> {
    let text = checkpoint_text(next_seq, last_hash, key);
    write_atomic_unique(path, &text, FILE_MODE).map_err(|e| io_err("write", path, e))
}

/// An anchor is about 250 bytes; a bigger file is not one, and is not read into memory.
const MAX_ANCHOR: u64 = 4096;

/// Reads the anchor file, at most [`MAX_ANCHOR`] bytes of it; `None` when it is missing.
fn read_anchor_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path, e)),
    };
    // One fstat and one read of exactly its size: the file is replaced by rename, never
    // rewritten in place, so what this descriptor holds cannot change under it. (read_to_end
    // on an empty buffer took five small reads.)
    let len = file
        .metadata()
        .map_err(|e| io_err("read the size of", path, e))?
        .len();
    if len > MAX_ANCHOR {
        return Err(AuditError::Corrupt {
            path: path.to_path_buf(),
        });
    }
    let mut text = Zeroizing::new(vec![0u8; len as usize]);
    (&file)
        .read_exact(&mut text)
        .map_err(|e| io_err("read", path, e))?;
    Ok(Some(text))
}

pub(crate) fn read_anchor(path: &Path) -> Result<Option<Anchor>, AuditError> {
    match read_anchor_file(path)? {
        None => Ok(None),
        Some(text) => parse_anchor(&text)
            .map(Some)
            .map_err(|()| AuditError::Corrupt {
                path: path.to_path_buf(),
            }),
    }
}

/// The length of `file` up to and including its last newline (0 when it has none), or `None`
/// when the bytes after that newline are longer than any line keychain writes.
fn whole_lines_len(file: &mut File, len: u64) -> io::Result<Option<u64>> {
    let mut pos = len;
    let mut chunk = vec![0u8; 4096];
    while pos > 0 {
        if len - pos > MAX_LINE {
            return Ok(None);
        }
        let n = pos.min(chunk.len() as u64) as usize;
        pos -= n as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk[..n])?;
        if let Some(i) = chunk[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(pos + i as u64 + 1));
        }
    }
    Ok(Some(0))
}

/// The last line of a log without its newline, found by reading backwards from the end, so an
/// append costs the same however long the log is. `None` for a missing or empty file.
pub(crate) fn read_tail(path: &Path) -> Result<Option<Vec<u8>>, AuditError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| io_err("read the size of", path, e))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    let mut end = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))
        .and_then(|_| file.read_exact(&mut end))
        .map_err(|e| io_err("read", path, e))?;
    if end[0] != b'\n' {
        return Err(AuditError::PartialLine {
            path: path.to_path_buf(),
        });
    }
    // Read chunks backwards until the newline before the last line (or the start).
    let content_end = len - 1;
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = content_end;
    loop {
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(buf[i + 1..].to_vec()));
        }
        if pos == 0 {
            return Ok(Some(buf));
        }
        if content_end - pos > MAX_LINE {
            return Err(AuditError::Corrupt {
                path: path.to_path_buf(),
            });
        }
        let chunk = pos.min(4096);
        pos -= chunk;
        let mut piece = vec![0u8; chunk as usize];
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_exact(&mut piece))
            .map_err(|e| io_err("read", path, e))?;
        piece.extend_from_slice(&buf);
        buf = piece;
    }
}

/// Takes the exclusive lock on `path` (see [`crate::lockfile`]), waiting at most `timeout`;
/// released when the returned value is dropped at the end of the caller's scope.
pub(crate) fn lock_file(
    path: &Path,
    what: &str,
    timeout: std::time::Duration,
) -> Result<crate::lockfile::Held, AuditError> {
    crate::lockfile::acquire(path, what, timeout).map_err(|e| match e {
        crate::lockfile::LockError::Busy(busy) => AuditError::LockBusy(Box::new(busy)),
        crate::lockfile::LockError::Io { what, path, source } => {
            AuditError::Io { what, path, source }
        }
    })
}

pub(crate) fn io_err(what: &'static str, path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn mismatch(path: &Path, detail: &str) -> AuditError {
    AuditError::Mismatch {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}
