//! The append machinery of [`AuditLog`]: finding where the next line goes (and reconciling a
//! crash or a torn write on the way), writing lines, and the anchor after them.

use super::*;

impl AuditLog {
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
    pub(super) fn cursor(&self) -> Result<Cursor, AuditError> {
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
    pub(super) fn set_aside_torn_tail(&self) -> Result<Option<PathBuf>, AuditError> {
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

    pub(super) fn checked_cursor(&self) -> Result<Cursor, AuditError> {
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
    pub(super) fn append_synced(&self, lines: &[u8]) -> Result<(), AuditError> {
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
    pub(super) fn write_line(&self, cursor: Cursor, event: &Event) -> Result<Cursor, AuditError> {
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

    /// One line at the cursor, with its newline, and the hash the next line chains to.
    pub(super) fn encode(
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

/// Where the next line goes: its seq, the hash it chains to and the key that MACs it.
pub(super) struct Cursor {
    pub(super) next_seq: u64,
    pub(super) last_hash: String,
    pub(super) key: MacKey,
}
