//! The counter index, `audit.index`: every account's highest write counter up to a point of the
//! log, so that the replay check costs the same on a log of 200,000 lines as on a new one.
//!
//! Opening a record compares its write counter with the last one the log recorded for the
//! account ([`super::counter`]). Read from the log alone that costs the distance back to the
//! account's last write, which for an account only ever read (`totp`, cached logins) is the whole
//! log. The index keeps the answer up to a point, and a reader reads only the lines after it.
//!
//! # Why the index can be trusted as much as the log
//!
//! - **It is MAC'd under a key derived from the keychain's secret** (the identity), not from the
//!   anchor: whoever can only write the folder (or read `audit.anchor`, which holds the current
//!   chain key) cannot forge or edit it. Readers open records, so they hold the identity anyway.
//! - **It names the exact line it ends after**: byte range and SHA-256 of that line, and the
//!   seq and chain key that follow. A reader takes it only where that line is found byte for byte
//!   in the log as it stands; an index from another log, or one that the log no longer reaches
//!   (cut, rolled back, a rotated file removed), is not used: the counters are rebuilt from the
//!   first line instead.
//! - **Every line after it is authenticated as `audit verify` does**: seq order, hash chain and
//!   MAC under its own evolved key. The index carries the chain key at its end masked with a pad
//!   only the secret gives, so a reader goes on from there without deriving keys from `k_0`,
//!   and a thief of the index learns no key (forward security stays with the anchor alone).
//!   Only authenticated lines go into a new index.
//! - **A line that does not authenticate stops the index there**, and the lines from it on are
//!   read as the log was read before the index existed (unauthenticated, as
//!   [`super::counter`] does): the check is then as strong as it was, never weaker; the damage
//!   is `audit verify`'s to report. The counter used is the highest of both.
//! - **An older copy of the index put back** is still a true statement about the log: the
//!   reader reads more lines after it and gets the same answer.
//! - **A file that does not parse is an error** ([`AuditError::Corrupt`]), one whose MAC does not
//!   check is refused ([`AuditError::IndexForged`]); neither is overwritten. A missing index is
//!   rebuilt from the log (authenticated from `k_0`).
//!
//! The index is written (temp file, fsync, rename, fsync of the folder) by readers, without the
//! log's lock, once they read [`STRIDE`] or more authenticated lines past it: what a call reads
//! stays bounded, and the two fsyncs are paid once in [`STRIDE`] calls. Two readers writing at
//! once each write a whole, true index; the older one winning costs the next reader a few lines.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::AuditError;
use super::counter::skip_rest_of_line;
use super::format::{GENESIS, MAX_LINE, counter_of, parse_line};
use super::key::{AuditKey, MacKey, hex, line_hash, unhex32};
use super::log::{AuditLog, io_err, read_sized};
use crate::fsutil::{FILE_MODE, write_atomic_unique};

/// A reader writes a new index once it read this many authenticated lines past the old one.
/// Each line past the index costs its MAC check and key step on every call (~60k instructions,
/// measured with callgrind on `totp`: at 63 lines past, more than the rest of the call), so
/// calls read 8 lines past it on average; the index write (two fsyncs) comes once in 16 calls
/// and stays off the median call.
pub const STRIDE: u64 = 16;

/// An index of 10,000 accounts is about 400 KB; a file much bigger than any is not one.
const MAX_INDEX: u64 = 64 << 20;

/// The format version this code writes and reads.
const VERSION: u32 = 1;

/// What the MAC covers: everything in the file but the MAC.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    v: u32,
    /// The seq of the first line not covered.
    next_seq: u64,
    /// SHA-256 of the last line covered (hex), the `prev` of the next.
    last_hash: String,
    /// Where the last line covered starts and ends (after its newline) in the file holding it.
    line_start: u64,
    line_end: u64,
    /// `k_{next_seq}` masked with [`AuditKey::mask_chain_key`] (hex).
    key: String,
    /// Every account's highest counter in the lines covered.
    counters: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexFile {
    body: Body,
    mac: String,
}

/// Where the chain stands after the last authenticated line.
struct Chain {
    next_seq: u64,
    last_hash: String,
    key: MacKey,
}

impl Chain {
    /// Takes `line` (without its newline) as the next one if seq, chain and MAC check.
    fn accept(&mut self, line: &[u8]) -> bool {
        let Ok(parsed) = parse_line(line) else {
            return false;
        };
        if parsed.seq != self.next_seq
            || parsed.prev != self.last_hash
            || !self.key.verify_line(&parsed.unsigned, &parsed.mac)
        {
            return false;
        }
        self.next_seq += 1;
        self.last_hash = line_hash(line);
        self.key = self.key.next();
        true
    }
}

/// The write counters the log recorded, as [`CounterSnapshot::counters`] found them.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// From authenticated lines (the index and the lines after it that checked).
    authenticated: BTreeMap<String, u64>,
    /// From lines after the first one that did not authenticate.
    unverified: BTreeMap<String, u64>,
    /// How many authenticated lines were read past the index (or from the start).
    pub lines_read: u64,
    /// Whether an index was found, authenticated and located in the log.
    pub from_index: bool,
    /// Whether every line read authenticated.
    pub intact: bool,
}

impl Counters {
    /// The highest counter recorded for `account`.
    pub fn get(&self, account: &str) -> Option<u64> {
        let a = self.authenticated.get(account).copied();
        let u = self.unverified.get(account).copied();
        a.max(u)
    }

    /// Every account's highest recorded counter.
    pub fn into_map(self) -> HashMap<String, u64> {
        let mut all = self.authenticated;
        for (account, counter) in self.unverified {
            bump(&mut all, account, counter);
        }
        all.into_iter().collect()
    }
}

/// The log's files and its index as they stood at one moment, taken **before** a record is read
/// (the log first, the record second: see `Keychain`'s transactions); authenticated later, once the
/// key is at hand, so that a command that fails before needing the key never asks for it.
///
/// The files are held open: a rotation in between renames them, it does not change what was
/// opened. Only the bytes present when the snapshot was taken are read.
pub struct CounterSnapshot {
    index_path: PathBuf,
    index: Option<Zeroizing<Vec<u8>>>,
    files: Vec<(PathBuf, File, u64)>,
}

impl std::fmt::Debug for CounterSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterSnapshot")
            .field("index_path", &self.index_path)
            .field("files", &self.files.len())
            .finish()
    }
}

impl AuditLog {
    /// Path of the counter index (`audit.index`).
    pub fn index_path(&self) -> PathBuf {
        self.path().with_extension("index")
    }

    /// Takes a [`CounterSnapshot`]: the index first, then the files (which only grow), so the
    /// index never points past what was opened.
    pub fn counter_snapshot(&self) -> Result<CounterSnapshot, AuditError> {
        let index_path = self.index_path();
        let index = read_index_file(&index_path)?;
        // A rotation between listing and opening would swap the live file under its name: list
        // again after opening until both listings agree.
        let mut listed = self.files()?;
        loop {
            let mut files = Vec::with_capacity(listed.len());
            for path in &listed {
                let file = match File::open(path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_err("open", path, e)),
                };
                let len = file
                    .metadata()
                    .map_err(|e| io_err("read the size of", path, e))?
                    .len();
                files.push((path.clone(), file, len));
            }
            let again = self.files()?;
            if again == listed {
                return Ok(CounterSnapshot {
                    index_path,
                    index,
                    files,
                });
            }
            listed = again;
        }
    }
}

impl CounterSnapshot {
    /// The highest write counter the log recorded for `account` (see [`Counters::get`]).
    pub fn last_counter(&self, account: &str, key: &AuditKey) -> Result<Option<u64>, AuditError> {
        Ok(self.counters(key)?.get(account))
    }

    /// Every account's recorded counters: the index, authenticated and located, then the lines
    /// after it. Writes a new index when [`STRIDE`] or more authenticated lines were read past
    /// the old one (or there was none).
    pub fn counters(&self, key: &AuditKey) -> Result<Counters, AuditError> {
        let loaded = match &self.index {
            Some(bytes) => Some(self.open_index(bytes, key)?),
            None => None,
        };
        let located = loaded.and_then(|(body, chain)| {
            self.locate(&body)
                .map(|start| (start, chain, body.counters))
        });
        let from_index = located.is_some();
        let (start, mut chain, authenticated) = located.unwrap_or_else(|| {
            let chain = Chain {
                next_seq: 0,
                last_hash: GENESIS.to_string(),
                key: key.mac_root(),
            };
            ((0, 0), chain, BTreeMap::new())
        });
        let mut out = Counters {
            authenticated,
            from_index,
            intact: true,
            ..Counters::default()
        };
        // Where the last authenticated line lies: file, start, end.
        let mut last: Option<(usize, u64, u64)> = None;
        for (i, (path, file, len)) in self.files.iter().enumerate().skip(start.0) {
            let from = if i == start.0 { start.1 } else { 0 };
            if from >= *len {
                continue;
            }
            let mut reader: &File = file;
            reader
                .seek(SeekFrom::Start(from))
                .map_err(|e| io_err("read", path, e))?;
            let mut reader = BufReader::with_capacity(64 * 1024, reader.take(len - from));
            let mut offset = from;
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(MAX_LINE + 1)
                    .read_until(b'\n', &mut line)
                    .map_err(|e| io_err("read", path, e))?;
                if n == 0 {
                    break;
                }
                let line_start = offset;
                offset += n as u64;
                if line.last() != Some(&b'\n') {
                    if n as u64 > MAX_LINE {
                        // Not a line of ours: nothing after it authenticates.
                        out.intact = false;
                        skip_rest_of_line(&mut reader).map_err(|e| io_err("read", path, e))?;
                        continue;
                    }
                    // A line still being written (or cut): not part of the log yet.
                    break;
                }
                let body = &line[..line.len() - 1];
                if out.intact {
                    if chain.accept(body) {
                        out.lines_read += 1;
                        last = Some((i, line_start, offset));
                        if let Some((account, counter)) = counter_of(body) {
                            bump(&mut out.authenticated, account, counter);
                        }
                        continue;
                    }
                    out.intact = false;
                }
                if let Some((account, counter)) = counter_of(body) {
                    bump(&mut out.unverified, account, counter);
                }
            }
        }
        let worth_writing = if from_index {
            out.lines_read >= STRIDE
        } else {
            out.lines_read > 0
        };
        if let (true, Some((_, line_start, line_end))) = (worth_writing, last) {
            // The counters came from the log itself; an index that cannot be written (a full
            // disk, a read-only folder) only costs the next reader time, so it does not fail
            // the command.
            let _ = self.write_index(key, &chain, line_start, line_end, &out.authenticated);
        }
        Ok(out)
    }

    /// Parses and authenticates the index; unmasks its chain key.
    fn open_index(&self, bytes: &[u8], key: &AuditKey) -> Result<(Body, Chain), AuditError> {
        let corrupt = || AuditError::Corrupt {
            path: self.index_path.clone(),
        };
        let file: IndexFile = serde_json::from_slice(bytes).map_err(|_| corrupt())?;
        let body_bytes = serde_json::to_vec(&file.body).map_err(|_| corrupt())?;
        if !crate::secret::ct_eq_str(&key.mac_index(&body_bytes), &file.mac) {
            return Err(AuditError::IndexForged {
                path: self.index_path.clone(),
            });
        }
        if file.body.v != VERSION {
            return Err(corrupt());
        }
        let masked = Zeroizing::new(unhex32(&file.body.key).ok_or_else(corrupt)?);
        let mut bytes = key.mask_chain_key(file.body.next_seq, &masked);
        let chain = Chain {
            next_seq: file.body.next_seq,
            last_hash: file.body.last_hash.clone(),
            key: MacKey::from_bytes(bytes),
        };
        bytes.zeroize();
        Ok((file.body, chain))
    }

    /// The file and offset right after the index's last line, where that line is found byte
    /// for byte (its SHA-256) in the snapshot; newest file first.
    fn locate(&self, body: &Body) -> Option<(usize, u64)> {
        let (start, end) = (body.line_start, body.line_end);
        if end <= start || end - start > MAX_LINE + 1 {
            return None;
        }
        let mut buf = vec![0u8; (end - start) as usize];
        for (i, (_, file, len)) in self.files.iter().enumerate().rev() {
            if end > *len || file.read_exact_at(&mut buf, start).is_err() {
                continue;
            }
            let Some((b'\n', line)) = buf.split_last() else {
                continue;
            };
            if !line.contains(&b'\n') && line_hash(line) == body.last_hash {
                return Some((i, end));
            }
        }
        None
    }

    fn write_index(
        &self,
        key: &AuditKey,
        chain: &Chain,
        line_start: u64,
        line_end: u64,
        counters: &BTreeMap<String, u64>,
    ) -> Result<(), AuditError> {
        let mut masked = key.mask_chain_key(chain.next_seq, chain.key.expose());
        let body = Body {
            v: VERSION,
            next_seq: chain.next_seq,
            last_hash: chain.last_hash.clone(),
            line_start,
            line_end,
            key: hex(&masked),
            counters: counters.clone(),
        };
        masked.zeroize();
        let encode_err = |e: serde_json::Error| AuditError::Io {
            what: "encode",
            path: self.index_path.clone(),
            source: io::Error::other(e),
        };
        let mac = key.mac_index(&serde_json::to_vec(&body).map_err(encode_err)?);
        let mut text = serde_json::to_vec(&IndexFile { body, mac }).map_err(encode_err)?;
        text.push(b'\n');
        write_atomic_unique(&self.index_path, &text, FILE_MODE)
            .map_err(|e| io_err("write", &self.index_path, e))
    }
}

/// Reads the index, at most [`MAX_INDEX`] bytes, never blocking on a planted FIFO; `None` when
/// there is none.
fn read_index_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, AuditError> {
    let file = match crate::fsutil::open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return Err(AuditError::Corrupt {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err("open", path, e)),
    };
    read_sized(&file, path, MAX_INDEX).map(Some)
}

fn bump(map: &mut BTreeMap<String, u64>, account: String, counter: u64) {
    let highest = map.entry(account).or_insert(counter);
    *highest = (*highest).max(counter);
}
