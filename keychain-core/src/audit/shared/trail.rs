//! The shared trail as a [`Trail`]: appends, transactions (the record written first, its
//! events second) and verification; and the keyless view of this machine's copy.

use super::*;

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
        super::super::counter::all_counters(std::slice::from_ref(&self.copy))
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

pub(super) fn store_error(e: KvError) -> AuditError {
    AuditError::Store {
        code: e.exit_code(),
        message: e.to_string(),
    }
}

pub(super) fn problem_text(kind: ProblemKind) -> String {
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
