//! Keeping this machine's copy of the shared trail in step with the store: witnessing its
//! last event, fetching (and checking) what other machines appended, writing new events with
//! check-and-set, and encoding them.

use super::trail::{problem_text, store_error};
use super::*;

impl SharedLog {
    /// Under the lock: checks that the store still holds the last event of the copy, fetches
    /// the events other machines appended since (each checked), adds them to the copy, and
    /// returns where the next event goes.
    pub(super) fn sync(&self) -> Result<Cursor, AuditError> {
        let cursor = self.witness()?;
        self.fetch_from(cursor)
    }

    /// Under the lock: checks that the store still holds the last event of the copy (one read)
    /// and returns the position after it, without asking whether others wrote there since.
    /// A line the copy ends in without its newline is settled first
    /// ([`Self::settle_partial`]).
    pub(super) fn witness(&self) -> Result<Cursor, AuditError> {
        self.settle_partial()?;
        self.witness_cursor(self.copy_cursor()?)
    }

    /// [`Self::witness`] of `cursor`, the copy's end as it was read: the store must hold its
    /// last event.
    fn witness_cursor(&self, cursor: Cursor) -> Result<Cursor, AuditError> {
        if cursor.next_seq > 0 {
            let seen = position(cursor.next_seq - 1);
            match self.kv.get(&seen).map_err(store_error)? {
                Some(value) if line_hash(&value.bytes) == cursor.last_hash => {}
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
        Ok(cursor)
    }

    /// Under the lock: settles a line the copy ends in without its newline, if any: an event
    /// a cached `login` added while the store had not answered for it yet, or one a process
    /// killed while adding to the copy left torn ([`Self::append_after_copy`]). It is cut off,
    /// and comes back only as the store has it: where the store holds it, the sync fetches it
    /// as any other; where the store holds nothing at its position, the event before it is
    /// witnessed (a tail the operator deleted or replaced is refused here as by any witness)
    /// and it is written there again, check-and-set, and added to the copy.
    pub(super) fn settle_partial(&self) -> Result<(), AuditError> {
        let Some(partial) = self.copy_partial()? else {
            return Ok(());
        };
        let seq = parse_line(&partial).ok().map(|parsed| parsed.seq);
        let absent = match seq {
            Some(seq) => self.kv.get(&position(seq)).map_err(store_error)?.is_none(),
            None => false,
        };
        self.cut_copy(partial.len() as u64)?;
        let (Some(seq), true) = (seq, absent) else {
            return Ok(());
        };
        let cursor = self.witness_cursor(self.copy_cursor()?)?;
        if cursor.next_seq != seq {
            return Ok(());
        }
        match self.kv.put(&position(seq), &partial, KvExpect::Absent) {
            Ok(_) => {
                let mut copy = partial;
                copy.push(b'\n');
                self.append_copy(&copy)
            }
            // Another machine wrote there meanwhile: the sync fetches it as any other.
            Err(KvError::Conflict { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The bytes after the copy's last newline, if it does not end in one. Bytes there longer
    /// than any event are no line this machine left: the copy is refused as corrupt.
    fn copy_partial(&self) -> Result<Option<Vec<u8>>, AuditError> {
        let mut file = match File::open(&self.copy) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &self.copy, e)),
        };
        let size = file
            .metadata()
            .map_err(|e| io_err("read the size of", &self.copy, e))?
            .len();
        let whole = whole_lines_len(&mut file, size)
            .map_err(|e| io_err("read", &self.copy, e))?
            .ok_or_else(|| AuditError::Corrupt {
                path: self.copy.clone(),
            })?;
        if whole == size {
            return Ok(None);
        }
        let mut partial = Vec::new();
        io::Seek::seek(&mut file, io::SeekFrom::Start(whole))
            .and_then(|_| file.read_to_end(&mut partial))
            .map_err(|e| io_err("read", &self.copy, e))?;
        Ok(Some(partial))
    }

    /// Ends the copy's last line (the one [`Self::append_after_copy`] added) with its
    /// newline; not synced (see there).
    fn end_copy_line(&self) -> Result<(), AuditError> {
        private_options()
            .append(true)
            .open(&self.copy)
            .and_then(|mut file| file.write_all(b"\n"))
            .map_err(|e| io_err("write to", &self.copy, e))
    }

    /// Cuts the copy's last `len` bytes off, durably.
    fn cut_copy(&self, len: u64) -> Result<(), AuditError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.copy)
            .map_err(|e| io_err("open", &self.copy, e))?;
        let size = file
            .metadata()
            .map_err(|e| io_err("read the size of", &self.copy, e))?
            .len();
        file.set_len(size.saturating_sub(len))
            .and_then(|()| file.sync_data())
            .map_err(|e| io_err("cut the last line off", &self.copy, e))
    }

    /// Under the lock: the position after the copy's last event, that event's hash and the
    /// newest generation it names, read from the copy alone (no request, unless a line left
    /// without its newline must be settled first: [`Self::copy_tail`]).
    pub(super) fn copy_cursor(&self) -> Result<Cursor, AuditError> {
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

    /// The fast path of a cached `login` (`login`): `event` (one that changes no
    /// record) written at the position right after this machine's copy of the trail ends,
    /// check-and-set "absent", beside the witness read and no other request, under this
    /// machine's lock of the trail.
    ///
    /// `decide` is asked first, with the account's highest counter in the copy, under the
    /// lock; `None` from it (or a copy that is empty or whose last event is not of generation
    /// `generation`, the key this log appends with, or one that ends in a line without its
    /// newline, left for the normal path to settle) writes nothing and returns `Ok(None)`.
    /// The event is then written (and, during the write's round trip, added to the copy
    /// without its newline: see the comments in the body), and `witnessed` is asked, under the
    /// lock: the
    /// [`witness_copy_end`] the caller started earlier (its round trip overlaps the caller's
    /// local work, `decide` and the write: the write's wait drives both requests). Unless it saw
    /// the store hold the copy's last event as the copy ends now (or, when the copy moved since it
    /// read it, a witness read here does), `Ok(None)` is returned and the event is taken off the
    /// copy again: a tail the operator deleted or replaced is then refused by the normal path, as it
    /// always was; this login's event is in the store with nothing revealed, as after a crash
    /// before the print. A position already taken also returns `Ok(None)` and writes nothing more:
    /// another machine appended since the copy ended, and the caller must take the normal path
    /// (which syncs and writes its own event after the others); so does a store that does not
    /// answer (an error), its line taken off the copy as well. `Ok(Some(_))` only once the event
    /// is in the store and its line ended in the copy, so whatever `decide` returned may be
    /// revealed: recorded before revealed.
    ///
    /// What a written event proves: no machine appended to the trail since this machine's
    /// copy ended (every append is check-and-set at the next position, so the trail has no
    /// holes a later writer could skip), so every record write logged anywhere is in the copy.
    /// Writers save the record first and log it second (`Keychain::commit`):
    /// a write whose event is not logged yet is as if it came after this login, the same order
    /// a lean read that races it has. The witness (the store still holds the copy's last event)
    /// was read before this write, as [`SharedLog::sync`] reads it, only not under this lock:
    /// it is used only if the copy still ends at the event it checked. Nothing else read from
    /// the store is used.
    pub fn append_after_copy<T>(
        &self,
        event: &Event,
        generation: u64,
        witnessed: &Witnessed<'_>,
        decide: impl FnOnce(Option<u64>) -> Option<T>,
    ) -> Result<Option<T>, AuditError> {
        if self.current()? != generation {
            return Ok(None);
        }
        let _lock = self.lock()?;
        // A line left without its newline is settled by the normal path's sync first.
        if self.copy_partial()?.is_some() {
            return Ok(None);
        }
        let cursor = self.copy_cursor()?;
        if cursor.next_seq == 0 || cursor.generation != generation {
            return Ok(None);
        }
        let account = event.account.as_deref().unwrap_or_default();
        let logged = self.copy_counter(account)?;
        let Some(decided) = decide(logged) else {
            return Ok(None);
        };
        // The line is made and written while the witness read is still under way (issue 20,
        // item 7: the two round trips overlap instead of following each other). Writing first
        // is safe because nothing is revealed until both are done:
        // - the witness is checked before `Some` is returned, as on the normal path, so a token
        //   is printed only once the event is in the store and the store held the copy's last
        //   event;
        // - a witness that fails after the write leaves this login's event in the store with
        //   nothing revealed: the state a crash between write and print leaves (an event too
        //   many in the trail, never a reveal too few). It is taken off the copy again, so the
        //   normal path that runs next witnesses the copy's end as it was and refuses a tail
        //   deleted or replaced (exit 7), as before; after a tail that checks, it fetches this
        //   event as any other machine's;
        // - the write is check-and-set "absent" at the position after the copy's end either
        //   way, so what it can land on is the same as after the witness; and the witness
        //   proves as much read beside the write as before it: the operator can delete or
        //   replace the tail right after either, and events chained after a tail the operator
        //   replaced make that tail fail every other member's fetch too.
        let (line, _) = self.encode(&cursor, event, &Origin::current())?;
        let written = self
            .kv
            .put_started(&position(cursor.next_seq), &line, KvExpect::Absent);
        // While the store writes it, the event goes into the copy, durably, but without its
        // newline: the copy's sync overlaps the round trip instead of following it (issue 20,
        // item 7). A line without its newline is one the store has not answered for: anything
        // that reads the copy under this lock settles it against the store first
        // ([`Self::settle_partial`]), so one left by a crash before the answer is never taken
        // for a tail the operator deleted. The newline follows once the event is in the store
        // and the witness passed (unsynced: a crash that loses it leaves the same line to
        // settle); any other answer cuts the line off again.
        self.append_copy(&line)?;
        let take_back = || self.cut_copy(line.len() as u64);
        match written() {
            Ok(_) => {}
            // Nothing is revealed either way: the witness's answer is not waited for.
            Err(KvError::Conflict { .. }) => return take_back().map(|()| None),
            Err(e) => {
                take_back()?;
                return Err(store_error(e));
            }
        }
        // The witness read was asked for the copy's tail before this lock was taken: if another
        // process of this machine added to the copy since, it vouched for an earlier event. The
        // copy's end (before this event) is then witnessed here, under the lock, as the normal
        // path would (one read more).
        if !witnessed.holds(cursor.next_seq, &cursor.last_hash)
            && self.witness_cursor(cursor).is_err()
        {
            take_back()?;
            return Ok(None);
        }
        self.end_copy_line()?;
        Ok(Some(decided))
    }

    /// Under the lock: fetches the events other machines appended from `cursor` on (each
    /// checked), adds them to the copy, and returns where the next event goes.
    pub(super) fn fetch_from(&self, cursor: Cursor) -> Result<Cursor, AuditError> {
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
    pub(super) fn remember(&self, cursor: &Cursor) {
        let len = std::fs::metadata(&self.copy).map_or(0, |m| m.len());
        *self.synced.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((cursor.clone(), len, std::time::Instant::now()));
    }

    /// Under the lock: the tail the sync for a record's counter found ([`Trail::last_counter`]),
    /// once, when no other process of this machine added to the copy since and it is fresh;
    /// else a sync.
    pub(super) fn sync_or_remembered(&self) -> Result<Cursor, AuditError> {
        match self.remembered() {
            Some(cursor) => Ok(cursor),
            None => self.sync(),
        }
    }

    /// Under the lock: the tail the last sync of this process found, once, when no other
    /// process of this machine added to the copy since and it is fresh.
    pub(super) fn remembered(&self) -> Option<Cursor> {
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

    /// Under the lock: the copy's last line. Every caller settles a line left without its
    /// newline first (or, on the fast path, leaves such a copy to the normal path); should one
    /// still be there, it is settled here the same way ([`Self::settle_partial`]), never just
    /// cut off: the store may not hold that event.
    pub(super) fn copy_tail(&self) -> Result<Option<Vec<u8>>, AuditError> {
        match read_tail(&self.copy) {
            Err(AuditError::PartialLine { .. }) => {
                self.settle_partial()?;
                read_tail(&self.copy)
            }
            other => other,
        }
    }

    /// Under the lock, with no partial line at the copy's end ([`Self::settle_partial`]): the
    /// counter of the copy's newest event for `account` that carries one, read with the index
    /// kept beside the copy ([`counters`]): only the events added since it are read.
    pub(super) fn copy_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        let dir = self.copy.parent().unwrap_or(Path::new("."));
        Ok(counters::read(&self.copy, dir, &self.keys())?
            .get(account)
            .copied())
    }

    pub(super) fn append_copy(&self, lines: &[u8]) -> Result<(), AuditError> {
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
    pub(super) fn encode(
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
    pub(super) fn never_lower(&self, event: &Event) -> Result<Event, AuditError> {
        let mut event = event.clone();
        if let (Some(account), Some(counter)) = (event.account.as_deref(), event.counter) {
            let logged =
                super::super::counter::last_counter(std::slice::from_ref(&self.copy), account)?;
            if let Some(logged) = logged.filter(|&l| l > counter) {
                event = event.counter(logged);
            }
        }
        Ok(event)
    }

    pub(super) fn mismatch(&self, key: &str, detail: &str) -> AuditError {
        AuditError::SharedMismatch {
            location: self.kv.location(key),
            detail: detail.to_string(),
        }
    }

    /// Brings the copy up to date (under the lock).
    pub(super) fn synced(&self) -> Result<(), AuditError> {
        let _lock = self.lock()?;
        self.sync().map(drop)
    }

    /// The copy's lines, for comparing with the store: whole lines only (one the copy ends in
    /// without its newline is not settled yet: [`Self::settle_partial`]).
    pub(super) fn copy_lines(&self) -> Result<Vec<Vec<u8>>, AuditError> {
        let file = match File::open(&self.copy) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("open", &self.copy, e)),
        };
        let mut lines = Vec::new();
        let mut reader = io::BufReader::new(file);
        loop {
            let mut line = Vec::new();
            let read = reader
                .by_ref()
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| io_err("read", &self.copy, e))?;
            if read == 0 || line.last() != Some(&b'\n') {
                if line.len() as u64 > MAX_LINE {
                    return Err(AuditError::Corrupt {
                        path: self.copy.clone(),
                    });
                }
                return Ok(lines);
            }
            line.pop();
            lines.push(line);
        }
    }
}
