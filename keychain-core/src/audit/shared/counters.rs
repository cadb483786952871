//! Each account's last write counter in this machine's copy of the shared trail, kept beside the
//! copy (`shared-audit.counters`) so that reading it costs the part of the copy written since,
//! not the whole copy (issue 20, item 7: every cached `login` reads it).
//!
//! The index says: the copy's first `len` bytes (whole lines), whose last line has hash `last`,
//! hold these counters (for each account, the counter of its newest event that carries one, as
//! [`super::super::counter::last_counter`] reads it backwards). It is MAC'd under the audit key
//! of the generation of that last line, so only a member can write one that is used. It is
//! used only when the copy still holds that very line at that very place; anything else (no
//! index, unreadable, another key, a copy shorter or different) is a full forward pass over the
//! copy, as good as the index, only slower. The index is only a cache of the copy: it is
//! written again (atomically) once more than [`REWRITE_AFTER`] bytes of the copy lie past it,
//! and a stale or missing one costs time, never a wrong answer. Callers hold the copy's lock
//! and have settled any line the copy ends in without its newline (`SharedLog::settle_partial`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::super::AuditError;
use super::super::format::{MAX_LINE, counter_of, generation_of, parse_line};
use super::super::key::{MacKey, line_hash};
use super::super::log::io_err;

/// The index's file name in the keychain folder.
pub(super) const INDEX_FILE: &str = "shared-audit.counters";
/// The index is written again once this much of the copy lies past it (about 50 events).
const REWRITE_AFTER: u64 = 16 * 1024;
/// Largest index read (a few dozen bytes per account).
const MAX_INDEX: u64 = 4 << 20;
/// What the MAC covers starts with this, so that no event line's MAC can pass for an index's.
const MAC_LABEL: &[u8] = b"keychain shared-audit counters 1\n";

#[derive(Serialize, Deserialize)]
struct Index {
    format: u32,
    /// How many bytes of the copy it covers (whole lines).
    len: u64,
    /// The last line it covers: its length with the newline, and its hash.
    last_len: u64,
    last: String,
    /// The generation that last line names; its audit key MACs the index.
    generation: u64,
    counters: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    mac: String,
}

impl Index {
    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Index {
            mac: String::new(),
            counters: self.counters.clone(),
            last: self.last.clone(),
            ..*self
        };
        let mut bytes = MAC_LABEL.to_vec();
        bytes.extend(serde_json::to_vec(&unsigned).expect("an index serialises"));
        bytes
    }
}

/// Every account's last counter in the copy at `copy`; `keys[g]` is generation `g`'s audit MAC
/// key where this machine holds it. Reads the index in `dir` when it is good for this copy and
/// writes a new one when it lags.
pub(super) fn read(
    copy: &Path,
    dir: &Path,
    keys: &[Option<MacKey>],
) -> Result<BTreeMap<String, u64>, AuditError> {
    let mut file = match File::open(copy) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err("open", copy, e)),
    };
    let size = file
        .metadata()
        .map_err(|e| io_err("read the size of", copy, e))?
        .len();
    let index_path = dir.join(INDEX_FILE);
    let (mut counters, from) = match load(&index_path, &mut file, size, keys) {
        Some(index) => (index.counters, index.len),
        None => (BTreeMap::new(), 0),
    };
    let mut rest = Vec::new();
    file.seek(SeekFrom::Start(from))
        .and_then(|_| (&mut file).take(size - from).read_to_end(&mut rest))
        .map_err(|e| io_err("read", copy, e))?;
    let Some((whole, last)) = scan(&rest, &mut counters) else {
        return Ok(counters);
    };
    if whole as u64 >= REWRITE_AFTER || from == 0 {
        save(&index_path, from + whole as u64, last, &counters, keys);
    }
    Ok(counters)
}

/// The index at `path`, when its MAC checks under the key of the generation it names and the
/// copy (`file`, `size` bytes) still holds the line it ends with, at the place it says.
fn load(path: &Path, file: &mut File, size: u64, keys: &[Option<MacKey>]) -> Option<Index> {
    let bytes = crate::fsutil::read_regular(path, MAX_INDEX).ok()?;
    let index: Index = serde_json::from_slice(&bytes).ok()?;
    if index.format != 1 || index.len > size || index.last_len > index.len {
        return None;
    }
    if index.last_len == 0 || index.last_len > MAX_LINE + 1 {
        return None;
    }
    let key = keys
        .get(usize::try_from(index.generation).ok()?)?
        .as_ref()?;
    if !key.verify_line(&index.signed_bytes(), &index.mac) {
        return None;
    }
    // The covered last line, with the byte before it (a newline, unless it starts the copy).
    let start = index.len - index.last_len;
    let before = u64::from(start > 0);
    let mut line = vec![0u8; (index.last_len + before) as usize];
    file.seek(SeekFrom::Start(start - before))
        .and_then(|_| file.read_exact(&mut line))
        .ok()?;
    if before == 1 && line.first() != Some(&b'\n') {
        return None;
    }
    let line = &line[before as usize..];
    let (content, newline) = line.split_at(line.len() - 1);
    (newline == b"\n" && line_hash(content) == index.last).then_some(index)
}

/// Adds to `counters` the counters of `bytes`' whole lines, newest last; returns how many bytes
/// those lines take and the last of them (without its newline), if there is one.
fn scan<'a>(bytes: &'a [u8], counters: &mut BTreeMap<String, u64>) -> Option<(usize, &'a [u8])> {
    let finder = memchr::memmem::Finder::new(b"\"counter\":");
    let mut start = 0;
    let mut last = None;
    for end in memchr::memchr_iter(b'\n', bytes) {
        let line = &bytes[start..end];
        start = end + 1;
        last = Some(line);
        if line.len() as u64 > MAX_LINE || finder.find(line).is_none() {
            continue;
        }
        if let Some((account, counter)) = counter_of(line) {
            counters.insert(account, counter);
        }
    }
    last.map(|line| (start, line))
}

/// Writes the index for the copy's first `len` bytes ending with `last`, MAC'd under the key of
/// the generation `last` names; not written when this machine holds no such key. An index that
/// cannot be written costs a longer read next time, nothing else: the error is dropped.
fn save(
    path: &Path,
    len: u64,
    last: &[u8],
    counters: &BTreeMap<String, u64>,
    keys: &[Option<MacKey>],
) {
    let Ok(parsed) = parse_line(last) else {
        return;
    };
    let generation = generation_of(&parsed.unsigned).unwrap_or(0);
    let Some(Some(key)) = usize::try_from(generation).ok().and_then(|g| keys.get(g)) else {
        return;
    };
    let mut index = Index {
        format: 1,
        len,
        last_len: last.len() as u64 + 1,
        last: line_hash(last),
        generation,
        counters: counters.clone(),
        mac: String::new(),
    };
    index.mac = key.mac_line(&index.signed_bytes());
    let Ok(bytes) = serde_json::to_vec(&index) else {
        return;
    };
    let _ = crate::fsutil::write_atomic_unique(path, &bytes, crate::fsutil::FILE_MODE);
}
