//! The last write counter the audit log recorded for an account: what replay detection compares
//! a record's counter with.
//!
//! Every event that follows a write of a record (add, set, rm, import, login write-backs) carries
//! the record's write counter. A record whose counter is below the last one recorded is an older
//! copy put back (a replay): it would bring back an old password, refresh token or TOTP step.
//!
//! The log is read from its end, newest file first, so the cost is the distance back to the
//! account's last write, not the length of the log. Lines longer than [`MAX_LINE`] are skipped,
//! so a garbage file cannot make a reader hold more than that in memory. A line that does not
//! parse is skipped here; `audit verify` reports it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::AuditError;
use super::format::{MAX_LINE, counter_of};
use super::log::io_err;

/// How much of a file is read at a time, backwards.
const CHUNK: u64 = 64 * 1024;

/// The counter of the newest line about `account` that carries one; `files` newest first.
pub(crate) fn last_counter(files: &[PathBuf], account: &str) -> Result<Option<u64>, AuditError> {
    let needle = format!(
        "\"account\":{}",
        serde_json::to_string(account).expect("a string serialises")
    );
    for path in files {
        if let Some(counter) = scan_file(path, needle.as_bytes(), account)? {
            return Ok(Some(counter));
        }
    }
    Ok(None)
}

/// The highest counter recorded for every account, in one forward pass over `files` (oldest
/// first): for commands that open every record (the report, export, refresh --all), where one
/// backward scan per account would read the log once per account.
pub(crate) fn all_counters(files: &[PathBuf]) -> Result<HashMap<String, u64>, AuditError> {
    let mut counters = HashMap::new();
    for path in files {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("open", path, e)),
        };
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            // At most MAX_LINE + 1 bytes of a line are kept; the rest of a longer one is skipped.
            let n = (&mut reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| io_err("read", path, e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') && n as u64 > MAX_LINE {
                skip_rest_of_line(&mut reader).map_err(|e| io_err("read", path, e))?;
                continue;
            }
            if let Some((account, counter)) = counter_of(&line) {
                // The highest ever logged: counters only go up, so this is the last one too,
                // unless a late event of a holder whose lease ran out came after its successor's.
                let highest = counters.entry(account).or_insert(counter);
                *highest = (*highest).max(counter);
            }
        }
    }
    Ok(counters)
}

/// Moves `reader` past the next line break (or to the end): the rest of a line too long to
/// be one of the log's.
pub(super) fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'\n', available) {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = available.len();
                reader.consume(n);
            }
        }
    }
}

fn scan_file(path: &PathBuf, needle: &[u8], account: &str) -> Result<Option<u64>, AuditError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path, e)),
    };
    let mut pos = file
        .metadata()
        .map_err(|e| io_err("read the size of", path, e))?
        .len();
    let check = |line: &[u8]| -> Option<u64> {
        if !contains(line, needle) {
            return None;
        }
        counter_of(line)
            .filter(|(logged, _)| logged == account)
            .map(|(_, counter)| counter)
    };
    // `carry` holds the start of the file's unread part up to the first newline seen: the end
    // of a line whose beginning lies further back. `oversized` drops a line past MAX_LINE.
    let mut carry: Vec<u8> = Vec::new();
    let mut oversized = false;
    while pos > 0 {
        let n = pos.min(CHUNK);
        pos -= n;
        let mut buf = vec![0u8; n as usize];
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| io_err("read", path, e))?;
        let Some(first_newline) = buf.iter().position(|&b| b == b'\n') else {
            if !oversized {
                buf.extend_from_slice(&carry);
                carry = buf;
                if carry.len() as u64 > MAX_LINE {
                    carry = Vec::new();
                    oversized = true;
                }
            }
            continue;
        };
        let mut tail = buf.split_off(first_newline + 1);
        if !oversized {
            tail.extend_from_slice(&carry);
        }
        oversized = false;
        // Only lines that name the account are parsed: find them with memmem, newest first.
        for at in memchr::memmem::rfind_iter(&tail, needle) {
            let start = memchr::memrchr(b'\n', &tail[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &tail[at..]).map_or(tail.len(), |i| at + i);
            if let Some(counter) = check(&tail[start..end]) {
                return Ok(Some(counter));
            }
        }
        buf.pop(); // the newline
        carry = buf;
    }
    Ok(if oversized { None } else { check(&carry) })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(account: &str, counter: Option<u64>, pad: usize) -> String {
        let counter = counter
            .map(|c| format!(",\"counter\":{c}"))
            .unwrap_or_default();
        format!(
            "{{\"seq\":1,\"x\":\"{}\",\"account\":\"{account}\"{counter}}}\n",
            "p".repeat(pad)
        )
    }

    #[test]
    fn finds_the_newest_counter_across_chunks_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("audit.log.1");
        let live = dir.path().join("audit.log");
        std::fs::write(&old, line("acme", Some(3), 10) + &line("beta", Some(9), 10)).unwrap();
        let mut text = line("acme", Some(7), 10);
        // Many long lines about other accounts, so the answer is several chunks back.
        for _ in 0..300 {
            text += &line("other", Some(1), 1000);
        }
        text += &line("acme", None, 5);
        std::fs::write(&live, text).unwrap();
        let files = vec![live.clone(), old.clone()];
        assert_eq!(last_counter(&files, "acme").unwrap(), Some(7));
        assert_eq!(last_counter(&files, "beta").unwrap(), Some(9));
        assert_eq!(last_counter(&files, "acm").unwrap(), None);
        assert_eq!(last_counter(&files, "nobody").unwrap(), None);
        let all = all_counters(&[old, live]).unwrap();
        assert_eq!(all.get("acme"), Some(&7));
        assert_eq!(all.get("beta"), Some(&9));
        assert_eq!(all.get("other"), Some(&1));
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn a_huge_line_without_newline_is_skipped_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("audit.log");
        let mut text = line("acme", Some(2), 0);
        text += &"x".repeat((MAX_LINE + 3 * CHUNK) as usize);
        text += "\n";
        text += &line("beta", Some(1), 0);
        std::fs::write(&live, text).unwrap();
        assert_eq!(
            last_counter(std::slice::from_ref(&live), "acme").unwrap(),
            Some(2)
        );
        let all = all_counters(&[live]).unwrap();
        assert_eq!((all.get("acme"), all.get("beta")), (Some(&2), Some(&1)));
    }
}
