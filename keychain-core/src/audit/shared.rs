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
//! names (the `members` module): every member can verify and append, someone who can only write
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
use super::log::{io_err, lock_file, read_tail, whole_lines_len};
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

/// The witness [`witness_copy_end`] asked for: the copy's last event as the copy ended then,
/// and the store's answer, taken at first need (opaque: only [`SharedLog::append_after_copy`]
/// and the fast path that started it use it).
pub struct Witnessed<'a> {
    /// Where the copy ended when the witness was asked: the next position and the hash of the
    /// last event; `None` for a copy that was empty or ended in a partial line.
    end: Option<(u64, String)>,
    /// The store's read of that event, under way until [`Witnessed::passed`] takes its answer.
    read: std::cell::Cell<Option<crate::store::kv::PendingGet<'a>>>,
    /// Whether the store held exactly that event, once known.
    held: std::cell::OnceCell<bool>,
}

impl Witnessed<'_> {
    /// Whether the store held exactly the copy's last event as the copy ended when the witness
    /// was asked (waiting for the store's answer the first time): `false` for a copy that was
    /// empty or ended in a partial line, an event gone or different, or a store that did not
    /// answer (the caller then takes the normal path, which says which).
    pub fn passed(&self) -> bool {
        *self.held.get_or_init(|| {
            let (Some((_, last_hash)), Some(read)) = (&self.end, self.read.take()) else {
                return false;
            };
            read()
                .ok()
                .flatten()
                .is_some_and(|held| line_hash(&held.bytes) == *last_hash)
        })
    }

    /// [`Witnessed::passed`] for a copy that ends (now) at `next_seq`, with `last_hash`: the
    /// witness vouches only for the event it read back.
    fn holds(&self, next_seq: u64, last_hash: &str) -> bool {
        self.end
            .as_ref()
            .is_some_and(|(seq, hash)| *seq == next_seq && hash == last_hash)
            && self.passed()
    }
}

/// The witness of [`SharedLog::sync`] for the fast path of a cached `login`, asked without the
/// copy's lock and without any key, so that its round trip overlaps the command's local work:
/// the copy's last event as the copy in `dir` ends now, read back from the store (one read,
/// sent now: [`Kv::get_started`]; its answer is taken by [`Witnessed::passed`]).
/// [`SharedLog::append_after_copy`] uses it only when the copy, under the lock, still ends
/// there.
pub fn witness_copy_end<'a>(kv: &'a dyn Kv, dir: &Path) -> Witnessed<'a> {
    let end = read_tail(&dir.join(COPY_FILE))
        .ok()
        .flatten()
        .and_then(|line| Some((parse_line(&line).ok()?.seq, line_hash(&line))));
    let read = end.as_ref().map(|(seq, _)| kv.get_started(&position(*seq)));
    Witnessed {
        end: end.map(|(seq, hash)| (seq + 1, hash)),
        read: std::cell::Cell::new(read),
        held: std::cell::OnceCell::new(),
    }
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
    /// group key generation `g` (`GroupKey::audit_secret` of the members), `None` where this
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
            lock_timeout: super::DEFAULT_LOCK_TIMEOUT,
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
}

mod sync;
mod trail;

pub use trail::KeylessTrail;

mod counters;
#[cfg(test)]
mod partial_tests;
#[cfg(test)]
mod tests;
