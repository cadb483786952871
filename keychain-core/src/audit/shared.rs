//! The audit trail of a shared keychain: one hash-chained, MAC'd sequence of events from every
//! machine, kept in the store next to the records.
//!
//! **Layout.** Event `seq` is the value of key `audit/<seq>`: exactly the bytes of a local log
//! line (seq, time, user, host, pid, command, account, action, outcome, counter, `generation`,
//! `prev`, `mac`). It is created with [`KvExpect::Absent`] (KV v2 `cas: 0`), so two machines
//! can never both write the same position: the loser re-reads the tail and writes its event at
//! the next one, chained to the winner's.
//!
//! **Keys.** An event is MAC'd under a key derived from the group key of the generation it
//! names ([`crate::members`]): every member can verify and append, someone who can only write
//! to the store cannot forge, and a member removed (the group key rotated) cannot append any
//! more. The key does not evolve per line as the local log's does: every member must be able
//! to append, and an evolving key would have to be kept somewhere they all can write.
//!
//! **Finding the tail: probing, not a head pointer.** Each machine keeps a copy of the events
//! it has seen (`shared-audit.log` in its keychain folder, appended as events arrive) and
//! probes forward from the copy's end: one GET that finds nothing when no other machine wrote
//! since. A head pointer would cost a second check-and-set write per event on one key that
//! every machine contends for, and it could lag the events after a crash between the two
//! writes, so readers would have to probe past it anyway. The copy earns its keep twice more:
//! it is the witness that the store still holds the last event this machine saw (a deleted or
//! replaced tail is refused before anything is appended), and reports and write counters are
//! read from it locally instead of over the network.
//!
//! **Retired generations.** After `member rm` rotated the group key, the removed member still
//! holds the retired generations' keys. Generations along the trail never go back: an event
//! MAC'd under a generation older than one already in the trail before it is refused (by every
//! sync and by `verify`, [`ProblemKind::RetiredGeneration`]), so a removed member cannot append
//! (an old counter, say) once a member wrote under the new generation, which `member rm` does at
//! once.
//!
//! **Counters as the trail stands now.** [`Trail::last_counter`] brings the copy up to date
//! first (it is what a record's counter is compared with, under the account's lease when it is
//! held), so a peer whose copy is behind does not accept a record rolled back past what other
//! machines logged. The one append that follows in the same process (the `login` event of a
//! cached token) starts from that sync's tail instead of reading it again, if no other process
//! of this machine added to the copy since and within [`CURSOR_FRESH`]: a cached `login` makes
//! no more round trips than before (a position taken meanwhile is still caught by the
//! check-and-set). Counters are logged so that they never go down for an account
//! (`SharedLog::never_lower`), so the newest is the highest.
//!
//! **Limits, said plainly.** Someone who can write to the store can delete or garble events;
//! that is detected (by `verify`, and by the next append of any machine that saw them), not
//! prevented: OpenBao's policies and its own audit device are what prevent and record that. A
//! member can rewrite the trail as the holder of the local log's secret can. A write whose
//! answer was lost is written again at the next position: an event may show twice, never none.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretBox;

use super::event::Origin;
use super::format::{GENESIS, MAX_LINE, Record, encode_line, generation_of, parse_line};
use super::key::{MacKey, line_hash};
use super::log::{io_err, lock_file, read_tail};
use super::{AuditError, AuditKey, Event, Problem, ProblemKind, Trail, Transaction, VerifyReport};
use crate::clock::SharedClock;
use crate::fsutil::private_options;
use crate::store::kv::{Kv, KvError, KvExpect};

/// This machine's copy of the shared trail, in its keychain folder.
pub const COPY_FILE: &str = "shared-audit.log";
const LOCK_FILE: &str = "shared-audit.lock";
/// How long an append keeps re-reading the tail after losing positions to other machines
/// before it gives up: a count would starve a process among many busy appenders, a time does
/// not (each loss means another event was written, so the trail moves on meanwhile).
const CONFLICT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long the tail found by a sync serves the next append of the same process without being
/// read again (the check-and-set on the position still catches any event written meanwhile).
const CURSOR_FRESH: std::time::Duration = std::time::Duration::from_secs(5);
/// `verify` looks this far past the last event it found for events after deleted ones.
const LOOK_PAST_END: u64 = 16;

/// The key of event `seq` in the store.
pub fn position(seq: u64) -> String {
    format!("audit/{seq}")
}

/// The last write counter this machine's copy of the shared trail in `dir` holds for
/// `account`, read without the store or a key: for serving a still-valid token while the
/// store is down, where a copy behind the store is safe (see [`SharedLog::last_counter`]).
pub fn copy_last_counter(dir: &Path, account: &str) -> Result<Option<u64>, AuditError> {
    super::counter::last_counter(&[dir.join(COPY_FILE)], account)
}

/// Every account's last write counter in this machine's copy of the shared trail in `dir`, read
/// without the store or a key (for `audit --no-key`).
pub fn copy_counters(dir: &Path) -> Result<std::collections::HashMap<String, u64>, AuditError> {
    super::counter::all_counters(&[dir.join(COPY_FILE)])
}

/// What [`witness_copy_end`] found: the store held this machine's copy's last event, as the
/// copy ends at the time of asking (opaque: only [`SharedLog::append_after_copy`] uses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    next_seq: u64,
    last_hash: String,
}

/// The witness of [`SharedLog::sync`] for the fast path of a cached `login`, asked without the
/// copy's lock and without any key, so that it can run while the command does its local work:
/// the copy's last event as the copy in `dir` ends now, read back from the store (one read).
/// `Some` only when the store holds exactly that event; `None` for a copy that is empty or ends
/// in a partial line, an event gone or different, or a store that does not answer (the caller
/// then takes the normal path, which says which). [`SharedLog::append_after_copy`] uses it
/// only when the copy, under the lock, still ends there.
pub fn witness_copy_end(kv: &dyn Kv, dir: &Path) -> Option<Witnessed> {
    let line = read_tail(&dir.join(COPY_FILE)).ok()??;
    let seq = parse_line(&line).ok()?.seq;
    let last_hash = line_hash(&line);
    let held = kv.get(&position(seq)).ok()??;
    (line_hash(&held.bytes) == last_hash).then_some(Witnessed {
        next_seq: seq + 1,
        last_hash,
    })
}

/// The shared trail as one machine sees it.
pub struct SharedLog {
    kv: Arc<dyn Kv>,
    copy: PathBuf,
    lock: PathBuf,
    /// The MAC key of every group key generation (by index) this machine can open; a new
    /// generation is added when this process removes a member.
    keys: std::sync::RwLock<Vec<Option<MacKey>>>,
    /// The keychain's clock: an event's time, as the local log's.
    clock: SharedClock,
    /// The tail the last sync of this process found, the copy's length then, and when.
    synced: std::sync::Mutex<Option<(Cursor, u64, std::time::Instant)>>,
    /// The newest generation the trail held at the last sync ([`Trail::generation`]).
    generation: std::sync::Mutex<Option<u64>>,
    /// How long to wait for another process of this machine holding the copy's lock.
    lock_timeout: std::time::Duration,
}

impl std::fmt::Debug for SharedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLog")
            .field("copy", &self.copy)
            .finish_non_exhaustive()
    }
}

/// Where the next event goes, and the newest group key generation the trail holds up to it.
#[derive(Clone)]
struct Cursor {
    next_seq: u64,
    last_hash: String,
    generation: u64,
}

impl SharedLog {
    /// The trail in `kv`, with this machine's copy in `dir`; `secrets[g]` is the audit secret of
    /// group key generation `g` ([`crate::members::GroupKey::audit_secret`]), `None` where this
    /// machine cannot open it. Appends use the newest.
    pub fn new(
        kv: Arc<dyn Kv>,
        dir: &Path,
        secrets: &[Option<SecretBox<[u8; 32]>>],
        clock: SharedClock,
    ) -> Self {
        SharedLog {
            clock,
            kv,
            synced: std::sync::Mutex::new(None),
            generation: std::sync::Mutex::new(None),
            copy: dir.join(COPY_FILE),
            lock: dir.join(LOCK_FILE),
            lock_timeout: crate::settings::DEFAULT_LOCK_TIMEOUT,
            keys: std::sync::RwLock::new(
                secrets
                    .iter()
                    .map(|s| s.as_ref().map(|s| AuditKey::derive(s).mac_root()))
                    .collect(),
            ),
        }
    }

    /// The same trail, waiting at most `timeout` for another process that holds its lock.
    pub fn waiting_at_most(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// After a removal: events from now on are MAC'd under generation `generation`'s key.
    pub fn set_generation(&self, generation: u64, secret: SecretBox<[u8; 32]>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let index = generation as usize;
        if keys.len() <= index {
            keys.resize_with(index + 1, || None);
        }
        keys[index] = Some(AuditKey::derive(&secret).mac_root());
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Vec<Option<MacKey>>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// This machine's copy of the events it has seen.
    pub fn copy_path(&self) -> &Path {
        &self.copy
    }

    /// The generation appends use (its key is the last one).
    fn current(&self) -> Result<u64, AuditError> {
        let keys = self.keys();
        match keys.last() {
            Some(Some(_)) => Ok(keys.len() as u64 - 1),
            _ => Err(AuditError::SharedMismatch {
                location: self.kv.location("audit"),
                detail: "cannot be appended to: this machine holds no current group key".into(),
            }),
        }
    }

    /// Serialises this machine's appenders (processes of other machines are kept apart by the
    /// store's check-and-set).
    fn lock(&self) -> Result<crate::lockfile::Held, AuditError> {
        lock_file(
            &self.lock,
            "the shared trail's local copy",
            self.lock_timeout,
        )
    }

    /// Why the bytes at position `seq` are not a good event chained to `prev` and MAC'd under
    /// generation `floor` or a newer one, if they are not; otherwise the event's hash and
    /// generation.
    fn check_event(
        &self,
        seq: u64,
        bytes: &[u8],
        prev: Option<&str>,
        floor: u64,
    ) -> Result<(String, u64), ProblemKind> {
        let parsed = parse_line(bytes).map_err(|()| ProblemKind::Unreadable)?;
        if parsed.seq != seq {
            return Err(ProblemKind::OutOfOrder {
                expected: seq,
                found: parsed.seq,
            });
        }
        if prev.is_some_and(|prev| prev != parsed.prev) {
            return Err(ProblemKind::BrokenChain);
        }
        let generation = generation_of(&parsed.unsigned).ok_or(ProblemKind::Unreadable)?;
        if generation < floor {
            return Err(ProblemKind::RetiredGeneration {
                generation,
                newer: floor,
            });
        }
        let keys = self.keys();
        // A keyless view ([`KeylessTrail`]) checks order and chain only; it never syncs.
        if keys.is_empty() {
            return Ok((line_hash(bytes), generation));
        }
        let key = usize::try_from(generation)
            .ok()
            .and_then(|g| keys.get(g))
            .and_then(Option::as_ref)
            .ok_or(ProblemKind::NoKey { generation })?;
        if !key.verify_line(&parsed.unsigned, &parsed.mac) {
            return Err(ProblemKind::BadMac);
        }
        Ok((line_hash(bytes), generation))
    }

    /// Under the lock: checks that the store still holds the last event of the copy, fetches
    /// the events other machines appended since (each checked), adds them to the copy, and
    /// returns where the next event goes.
    fn sync(&self) -> Result<Cursor, AuditError> {
        let cursor = self.witness()?;
        self.fetch_from(cursor)
    }

    /// Under the lock: checks that the store still holds the last event of the copy (one read)
    /// and returns the position after it, without asking whether others wrote there since.
    fn witness(&self) -> Result<Cursor, AuditError> {
        let Cursor {
            next_seq,
            last_hash,
            generation: floor,
        } = self.copy_cursor()?;
        if next_seq > 0 {
            let seen = position(next_seq - 1);
            match self.kv.get(&seen).map_err(store_error)? {
                Some(value) if line_hash(&value.bytes) == last_hash => {}
                Some(_) => {
                    return Err(self.mismatch(
                        &seen,
                        "holds another event than this machine saw there (replaced or rolled back)",
                    ));
                }
                None => {
                    return Err(self.mismatch(
                        &seen,
                        "no longer holds an event this machine saw there (deleted or rolled back)",
                    ));
                }
            }
        }
        Ok(Cursor {
            next_seq,
            last_hash,
            generation: floor,
        })
    }

    /// Under the lock: the position after the copy's last event, that event's hash and the
    /// newest generation it names, read from the copy alone (no request).
    fn copy_cursor(&self) -> Result<Cursor, AuditError> {
        Ok(match self.copy_tail()? {
            None => Cursor {
                next_seq: 0,
                last_hash: GENESIS.to_string(),
                generation: 0,
            },
            Some(line) => {
                let parsed = parse_line(&line).map_err(|()| AuditError::Corrupt {
                    path: self.copy.clone(),
                })?;
                let generation = generation_of(&parsed.unsigned).unwrap_or(0);
                Cursor {
                    next_seq: parsed.seq + 1,
                    last_hash: line_hash(&line),
                    generation,
                }
            }
        })
    }

    /// The fast path of a cached `login` ([`crate::login`]): `event` (one that changes no
    /// record) written at the position right after this machine's copy of the trail ends,
    /// check-and-set "absent", with no other request, under this machine's lock of the trail.
    ///
    /// `decide` is asked first, with the account's highest counter in the copy, under the
    /// lock; `None` from it (or a copy that is empty or whose last event is not of generation
    /// `generation`, the key this log appends with) writes nothing and returns `Ok(None)`.
    /// `witnessed` is asked next, under the lock: the [`witness_copy_end`] the caller started
    /// earlier (it runs in parallel with the caller's local work and `decide`). Unless it saw
    /// the store hold the copy's last event as the copy ends now, nothing is written and
    /// `Ok(None)` returned: a tail the operator deleted or replaced is then refused by the
    /// normal path, as it always was.
    /// A position already taken also returns `Ok(None)` and writes nothing more: another
    /// machine appended since the copy ended, and the caller must take the normal path (which
    /// syncs and writes its own event after the others). `Ok(Some(_))` only once the event is
    /// in the store, so whatever `decide` returned may be revealed: recorded before revealed.
    ///
    /// What a written event proves: no machine appended to the trail since this machine's
    /// copy ended (every append is check-and-set at the next position, so the trail has no
    /// holes a later writer could skip), so every record write logged anywhere is in the copy.
    /// Writers save the record first and log it second ([`crate::keychain::Keychain::commit`]):
    /// a write whose event is not logged yet is as if it came after this login, the same order
    /// a lean read that races it has. The witness (the store still holds the copy's last event)
    /// was read before this write, as [`SharedLog::sync`] reads it, only not under this lock:
    /// it is used only if the copy still ends at the event it checked. Nothing else read from
    /// the store is used.
    pub fn append_after_copy<T>(
        &self,
        event: &Event,
        generation: u64,
        witnessed: impl FnOnce() -> Option<Witnessed>,
        decide: impl FnOnce(Option<u64>) -> Option<T>,
    ) -> Result<Option<T>, AuditError> {
        if self.current()? != generation {
            return Ok(None);
        }
        let _lock = self.lock()?;
        let cursor = self.copy_cursor()?;
        if cursor.next_seq == 0 || cursor.generation != generation {
            return Ok(None);
        }
        let account = event.account.as_deref().unwrap_or_default();
        let logged = self.copy_counter(account)?;
        let Some(decided) = decide(logged) else {
            return Ok(None);
        };
        // The line is made while the witness read is still under way (the origin's user name is
        // a lookup of its own); the witness is waited for only now, so that the read overlaps
        // all the work above.
        let (line, _) = self.encode(&cursor, event, &Origin::current())?;
        let ends_as_witnessed = witnessed()
            .is_some_and(|w| w.next_seq == cursor.next_seq && w.last_hash == cursor.last_hash);
        if !ends_as_witnessed {
            return Ok(None);
        }
        match self
            .kv
            .put(&position(cursor.next_seq), &line, KvExpect::Absent)
        {
            Ok(_) => {
                let mut copy = line;
                copy.push(b'\n');
                self.append_copy(&copy)?;
                Ok(Some(decided))
            }
            Err(KvError::Conflict { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Under the lock: fetches the events other machines appended from `cursor` on (each
    /// checked), adds them to the copy, and returns where the next event goes.
    fn fetch_from(&self, cursor: Cursor) -> Result<Cursor, AuditError> {
        // Events are added to the copy only once their MACs checked: never by a keyless view.
        self.current()?;
        let Cursor {
            mut next_seq,
            mut last_hash,
            generation: mut floor,
        } = cursor;
        let mut fetched = Vec::new();
        while let Some(value) = self.kv.get(&position(next_seq)).map_err(store_error)? {
            let (hash, generation) = self
                .check_event(next_seq, &value.bytes, Some(&last_hash), floor)
                .map_err(|kind| {
                    self.mismatch(
                        &position(next_seq),
                        &format!("does not check: {}", problem_text(kind)),
                    )
                })?;
            fetched.extend_from_slice(&value.bytes);
            fetched.push(b'\n');
            last_hash = hash;
            floor = generation;
            next_seq += 1;
        }
        if !fetched.is_empty() {
            self.append_copy(&fetched)?;
        }
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) = Some(floor);
        Ok(Cursor {
            next_seq,
            last_hash,
            generation: floor,
        })
    }

    /// Keeps `cursor` (the tail as the copy now ends) for the next [`Trail::begin`] of this
    /// process. Called under the lock.
    fn remember(&self, cursor: &Cursor) {
        let len = std::fs::metadata(&self.copy).map_or(0, |m| m.len());
        *self.synced.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((cursor.clone(), len, std::time::Instant::now()));
    }

    /// Under the lock: the tail the sync for a record's counter found ([`Trail::last_counter`]),
    /// once, when no other process of this machine added to the copy since and it is fresh;
    /// else a sync.
    fn sync_or_remembered(&self) -> Result<Cursor, AuditError> {
        match self.remembered() {
            Some(cursor) => Ok(cursor),
            None => self.sync(),
        }
    }

    /// Under the lock: the tail the last sync of this process found, once, when no other
    /// process of this machine added to the copy since and it is fresh.
    fn remembered(&self) -> Option<Cursor> {
        let remembered = self.synced.lock().unwrap_or_else(|e| e.into_inner()).take();
        match remembered {
            Some((cursor, len, at))
                if at.elapsed() < CURSOR_FRESH
                    && std::fs::metadata(&self.copy).map_or(0, |m| m.len()) == len =>
            {
                Some(cursor)
            }
            _ => None,
        }
    }

    /// The copy's last whole line. A partial line (a process killed while adding to the copy)
    /// is cut off: the copy only repeats the store, which still has the event.
    fn copy_tail(&self) -> Result<Option<Vec<u8>>, AuditError> {
        match read_tail(&self.copy) {
            Err(AuditError::PartialLine { .. }) => {
                let mut bytes = Vec::new();
                File::open(&self.copy)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .map_err(|e| io_err("read", &self.copy, e))?;
                let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.copy)
                    .and_then(|f| f.set_len(whole as u64))
                    .map_err(|e| io_err("cut the partial line off", &self.copy, e))?;
                read_tail(&self.copy)
            }
            other => other,
        }
    }

    /// Under the lock, with no partial line at the copy's end (see [`Self::copy_tail`]): the
    /// counter of the copy's newest event for `account` that carries one, read with the index
    /// kept beside the copy ([`counters`]): only the events added since it are read.
    fn copy_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        let dir = self.copy.parent().unwrap_or(Path::new("."));
        Ok(counters::read(&self.copy, dir, &self.keys())?
            .get(account)
            .copied())
    }

    fn append_copy(&self, lines: &[u8]) -> Result<(), AuditError> {
        let mut file = private_options()
            .append(true)
            .create(true)
            .open(&self.copy)
            .map_err(|e| io_err("open", &self.copy, e))?;
        file.write_all(lines)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_err("write to", &self.copy, e))
    }

    /// One event at the cursor and its hash, MAC'd under the current generation's key.
    fn encode(
        &self,
        cursor: &Cursor,
        event: &Event,
        origin: &Origin,
    ) -> Result<(Vec<u8>, String), AuditError> {
        let generation = self.current()?;
        let keys = self.keys();
        let key = keys[generation as usize]
            .as_ref()
            .expect("current() checked it");
        if generation < cursor.generation {
            // Another member removed one since this process read the member list: its key of
            // the new generation is not ours yet, and an event under ours would be refused.
            return Err(AuditError::SharedMismatch {
                location: self.kv.location("audit"),
                detail: format!(
                    "cannot be appended to with group key generation {generation}: the trail is at generation {} (a member was removed while this command ran); run it again",
                    cursor.generation
                ),
            });
        }
        let record = Record::new(
            event,
            origin,
            self.clock.now(),
            cursor.next_seq,
            &cursor.last_hash,
            Some(generation),
        );
        encode_line(&record, |unsigned| key.mac_line(unsigned)).map_err(|e| AuditError::Io {
            what: "encode an audit event for",
            path: self.copy.clone(),
            source: io::Error::other(e),
        })
    }

    /// `event` with its write counter raised to the highest the trail holds for its account:
    /// a holder whose lease ran out may log its write after its successor logged a later one,
    /// and the trail's newest counter of an account must stay its highest.
    fn never_lower(&self, event: &Event) -> Result<Event, AuditError> {
        let mut event = event.clone();
        if let (Some(account), Some(counter)) = (event.account.as_deref(), event.counter) {
            let logged = super::counter::last_counter(std::slice::from_ref(&self.copy), account)?;
            if let Some(logged) = logged.filter(|&l| l > counter) {
                event = event.counter(logged);
            }
        }
        Ok(event)
    }

    fn mismatch(&self, key: &str, detail: &str) -> AuditError {
        AuditError::SharedMismatch {
            location: self.kv.location(key),
            detail: detail.to_string(),
        }
    }

    /// Brings the copy up to date (under the lock).
    fn synced(&self) -> Result<(), AuditError> {
        let _lock = self.lock()?;
        self.sync().map(drop)
    }

    /// The copy's lines, for comparing with the store.
    fn copy_lines(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        let file = match File::open(&self.copy) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("open", &self.copy, e)),
        };
        let mut lines = Vec::new();
        for line in io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(|e| io_err("read", &self.copy, e))?;
            if line.len() as u64 > MAX_LINE {
                return Err(AuditError::Corrupt {
                    path: self.copy.clone(),
                });
            }
            lines.push(line);
        }
        Ok(lines)
    }
}

impl Trail for SharedLog {
    /// One event that changes no record (a cached login, a reveal): written at the position
    /// after the copy's last event straight away. Asking first whether that position is free
    /// cannot change the outcome: the write is check-and-set, and a position taken by another
    /// machine makes it fetch (and check) the events it missed and write after them.
    fn append(&self, event: &Event) -> Result<(), AuditError> {
        self.current()?;
        let lock = self.lock()?;
        // The tail the record's counter was just compared with, or else the copy's own.
        let cursor = match self.remembered() {
            Some(cursor) => cursor,
            None => self.witness()?,
        };
        Box::new(SharedPending {
            log: self,
            _lock: lock,
            cursor,
        })
        .commit(std::slice::from_ref(event))
    }

    fn begin(&self) -> Result<Box<dyn Transaction + '_>, AuditError> {
        // A machine without the current key (removed) is told so before anything is read.
        self.current()?;
        let lock = self.lock()?;
        let cursor = self.sync_or_remembered()?;
        Ok(Box::new(SharedPending {
            log: self,
            _lock: lock,
            cursor,
        }))
    }

    /// From this machine's copy once it is brought up to date: a copy behind the store would
    /// give a lower counter, and a record rolled back past what other machines logged would
    /// pass. (Offline, [`copy_last_counter`] reads the copy as it is.)
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        let _lock = self.lock()?;
        let cursor = self.sync()?;
        self.remember(&cursor);
        self.copy_counter(account)
    }

    fn all_counters(&self) -> Result<std::collections::HashMap<String, u64>, AuditError> {
        self.synced()?;
        super::counter::all_counters(std::slice::from_ref(&self.copy))
    }

    fn generation(&self) -> Option<u64> {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn files(&self) -> Result<Vec<PathBuf>, AuditError> {
        self.synced()?;
        Ok(if self.copy.exists() {
            vec![self.copy.clone()]
        } else {
            Vec::new()
        })
    }

    /// Reads every event from the store: each one's MAC under its generation's key, its
    /// position, its chain to the one before; positions missing before the last event found;
    /// and every event this machine kept a copy of must still be there, unchanged.
    fn verify(&self, _key: &AuditKey) -> Result<VerifyReport, AuditError> {
        let _lock = self.lock()?;
        let seen = self.copy_lines()?;
        let mut report = VerifyReport {
            files: 1,
            anchor_checked: true,
            macs_checked: true,
            ..VerifyReport::default()
        };
        let problem = |seq: u64, kind| Problem {
            file: PathBuf::from(self.kv.location(&position(seq))),
            line: None,
            seq: Some(seq),
            time: None,
            action: None,
            kind,
        };
        let mut prev: Option<String> = Some(GENESIS.to_string());
        let mut floor = 0u64;
        let mut missing_from: Option<u64> = None;
        let mut last_found: Option<u64> = None;
        let mut seq = 0u64;
        loop {
            let past_end = last_found.map_or(seq, |l| seq - l - 1);
            if seq >= seen.len() as u64 && past_end >= LOOK_PAST_END {
                break;
            }
            match self.kv.get(&position(seq)).map_err(store_error)? {
                None => {
                    missing_from.get_or_insert(seq);
                    prev = None;
                }
                Some(value) => {
                    if let Some(from) = missing_from.take() {
                        report.problems.push(problem(
                            seq,
                            ProblemKind::Gap {
                                expected: from,
                                found: seq,
                            },
                        ));
                    }
                    report.first_seq.get_or_insert(seq);
                    report.last_seq = Some(seq);
                    report.lines += 1;
                    last_found = Some(seq);
                    match self.check_event(seq, &value.bytes, prev.as_deref(), floor) {
                        Ok((hash, generation)) => {
                            prev = Some(hash);
                            floor = generation;
                        }
                        Err(kind) => {
                            report.problems.push(problem(seq, kind));
                            // As the local log's verify: the event after an untrusted one is
                            // not chain-checked, so one edit is reported once, where it is.
                            prev = None;
                        }
                    }
                    if let Some(copy) = seen.get(seq as usize)
                        && line_hash(copy) != line_hash(&value.bytes)
                    {
                        report.problems.push(problem(seq, ProblemKind::NotAsSeen));
                    }
                }
            }
            seq += 1;
        }
        let store_next = last_found.map_or(0, |l| l + 1);
        if store_next < seen.len() as u64 {
            report.problems.push(problem(
                store_next,
                ProblemKind::Truncated {
                    anchor_next: seen.len() as u64,
                    log_next: store_next,
                },
            ));
        }
        Ok(report)
    }
}

/// The shared trail locked on this machine, its tail read and checked.
struct SharedPending<'a> {
    log: &'a SharedLog,
    _lock: crate::lockfile::Held,
    cursor: Cursor,
}

impl Transaction for SharedPending<'_> {
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        self.log.copy_counter(account)
    }

    fn commit(self: Box<Self>, events: &[Event]) -> Result<(), AuditError> {
        let log = self.log;
        let origin = Origin::current();
        let mut cursor = self.cursor;
        let started = std::time::Instant::now();
        for event in events {
            let event = &log.never_lower(event)?;
            let mut conflicts = 0u32;
            loop {
                let (line, hash) = log.encode(&cursor, event, &origin)?;
                match log
                    .kv
                    .put(&position(cursor.next_seq), &line, KvExpect::Absent)
                {
                    Ok(_) => {
                        let mut copy = line;
                        copy.push(b'\n');
                        log.append_copy(&copy)?;
                        cursor = Cursor {
                            next_seq: cursor.next_seq + 1,
                            last_hash: hash,
                            generation: cursor.generation.max(log.current()?),
                        };
                        break;
                    }
                    // Another machine took the position: read its event, chain to it, go on.
                    Err(KvError::Conflict { .. }) if started.elapsed() < CONFLICT_PATIENCE => {
                        conflicts += 1;
                        // After a few losses in a row, a short random pause spreads the
                        // contenders out instead of all of them re-reading at once.
                        if conflicts > 2 {
                            use rand::Rng;
                            let ms = rand::thread_rng().gen_range(0..conflicts.min(20) as u64);
                            std::thread::sleep(std::time::Duration::from_millis(ms));
                        }
                        cursor = log.sync()?;
                    }
                    Err(e) => return Err(store_error(e)),
                }
            }
        }
        Ok(())
    }
}

fn store_error(e: KvError) -> AuditError {
    AuditError::Store {
        code: e.exit_code(),
        message: e.to_string(),
    }
}

fn problem_text(kind: ProblemKind) -> String {
    let problem = Problem {
        file: PathBuf::new(),
        line: None,
        seq: None,
        time: None,
        action: None,
        kind,
    };
    problem.to_string().trim_start_matches(": ").to_string()
}

/// The shared trail as `keychain audit --no-key` sees it: without this machine's identity no
/// group key opens, so no MAC can be checked. What is checked: every position from 0 to past
/// the last event holds an event with that seq (none missing, none moved), each chained by hash
/// to the one before, and every event this machine saw (its copy) is still there unchanged and
/// the trail does not end before the copy. Someone who can write the store could rewrite the
/// events after the last one this machine saw with a consistent chain: only the MACs (with the
/// key) catch that.
pub struct KeylessTrail(SharedLog);

impl KeylessTrail {
    /// The trail in `kv`, compared with this machine's copy in `dir`; nothing is written.
    pub fn new(kv: Arc<dyn Kv>, dir: &Path, clock: SharedClock) -> Self {
        KeylessTrail(SharedLog::new(kv, dir, &[], clock))
    }

    /// See [`KeylessTrail`]; `macs_checked` is false in the report.
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        let mut report = self
            .0
            .verify(&AuditKey::derive(&SecretBox::new(Box::new([0; 32]))))?;
        report.macs_checked = false;
        Ok(report)
    }
}

mod counters;
#[cfg(test)]
mod tests;
