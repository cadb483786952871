//! The files beside the log: the anchor read and written, the last line read backwards, the
//! log's lock; and the errors about them.

use super::*;

/// Writes the anchor and the key state together, atomically and durably: one file, one rename.
pub(super) fn write_checkpoint(
    path: &Path,
    next_seq: u64,
    last_hash: &str,
    key: &MacKey,
) -> Result<(), AuditError> {
    let text = checkpoint_text(next_seq, last_hash, key);
    write_atomic_unique(path, &text, FILE_MODE).map_err(|e| io_err("write", path, e))
}

/// An anchor is about 250 bytes; a bigger file is not one, and is not read into memory.
pub(super) const MAX_ANCHOR: u64 = 4096;

/// Reads the anchor file, at most [`MAX_ANCHOR`] bytes of it; `None` when it is missing.
pub(super) fn read_anchor_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path, e)),
    };
    read_sized(&file, path, MAX_ANCHOR).map(Some)
}

/// The whole of a small file the log keeps beside itself (the anchor, the counter index), at
/// most `max` bytes (more is a corrupt file), from a descriptor the caller opened as it must.
/// One fstat and one read of exactly its size: such files are replaced by rename, never
/// rewritten in place, so what the descriptor holds cannot change under it. (read_to_end on an
/// empty buffer took five small reads.)
pub(crate) fn read_sized(
    file: &File,
    path: &Path,
    max: u64,
) -> Result<Zeroizing<Vec<u8>>, AuditError> {
    let len = file
        .metadata()
        .map_err(|e| io_err("read the size of", path, e))?
        .len();
    if len > max {
        return Err(AuditError::Corrupt {
            path: path.to_path_buf(),
        });
    }
    let mut text = Zeroizing::new(vec![0u8; len as usize]);
    (&*file)
        .read_exact(&mut text)
        .map_err(|e| io_err("read", path, e))?;
    Ok(text)
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
pub(crate) fn whole_lines_len(file: &mut File, len: u64) -> io::Result<Option<u64>> {
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

pub(super) fn mismatch(path: &Path, detail: &str) -> AuditError {
    AuditError::Mismatch {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}
