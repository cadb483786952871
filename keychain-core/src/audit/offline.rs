//! Events a machine of a shared keychain logged while the store was down, copied into the
//! shared trail once it answers again.
//!
//! While OpenBao cannot be reached, `login` may serve a still-valid token from the local copy of
//! the record; that use is logged in this machine's own file log (`audit.log`), since the
//! shared trail is in the store that is down. Without a copy, the other members and an officer
//! reading the shared trail would never see it. The first time a process opens the shared trail
//! again, every line of the file log after the last one copied becomes an `offline` event in
//! the shared trail (its account, command and outcome kept; the detail names the original
//! action, time and local position), and `offline-copied` records how far the copy went. A
//! file lock keeps two processes of this machine from copying the same lines twice.
//!
//! The copy is only as good as the file log: it is MAC'd under this machine's key, not the
//! group's, so a member checks it with `keychain audit verify` on this machine.
#![deny(missing_docs)]

use std::path::Path;

use super::format::LineFields;
use super::{Action, AuditError, Event, Outcome, Trail};

/// How far the file log was copied (the seq of the last line copied), in the keychain folder.
pub const MARKER_FILE: &str = "offline-copied";
const LOCK_FILE: &str = "offline-copied.lock";

/// Copies the lines of `dir`'s file log not copied yet into `shared`; returns how many. Nothing
/// to do (the common case: no file log) costs one failed open.
pub fn copy_to_shared(dir: &Path, shared: &dyn Trail) -> Result<usize, AuditError> {
    let log = dir.join(super::LOG_FILE);
    if !log.exists() {
        return Ok(0);
    }
    let lock_path = dir.join(LOCK_FILE);
    let lock = crate::fsutil::private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| file_error(format!("cannot open {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| file_error(format!("cannot lock {}", lock_path.display()), e))?;
    let marker = dir.join(MARKER_FILE);
    let done: Option<u64> = match std::fs::read_to_string(&marker) {
        Ok(text) => Some(text.trim().parse().map_err(|_| AuditError::OfflineMarker {
            path: marker.clone(),
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(file_error(format!("cannot read {}", marker.display()), e)),
    };
    let text =
        std::fs::read(&log).map_err(|e| file_error(format!("cannot read {}", log.display()), e))?;
    let mut copied = 0;
    for line in text.split(|&b| b == b'\n') {
        let Some(line) = LineFields::decode(line) else {
            continue;
        };
        let seq = line.seq;
        if done.is_some_and(|done| seq <= done) {
            continue;
        }
        shared.append(&event_of(&line, seq))?;
        crate::fsutil::write_atomic_unique(
            &marker,
            seq.to_string().as_bytes(),
            crate::fsutil::FILE_MODE,
        )
        .map_err(|e| file_error(format!("cannot write {}", marker.display()), e))?;
        copied += 1;
    }
    Ok(copied)
}

/// Whether `dir`'s file log may hold lines not copied into the shared trail yet (the fast path
/// of a cached `login` is not taken then: the normal one copies them first). Any doubt (a log
/// or marker that cannot be read) says yes. No file log (the common case) costs one failed stat.
pub fn pending(dir: &Path) -> bool {
    let log = dir.join(super::LOG_FILE);
    let text = match std::fs::read(&log) {
        Ok(text) => text,
        Err(e) => return e.kind() != std::io::ErrorKind::NotFound,
    };
    let last = text
        .split(|&b| b == b'\n')
        .filter_map(LineFields::decode)
        .map(|line| line.seq)
        .max();
    let Some(last) = last else {
        return false;
    };
    match std::fs::read_to_string(dir.join(MARKER_FILE)) {
        Ok(done) => done.trim().parse::<u64>().map_or(true, |done| last > done),
        Err(_) => true,
    }
}

/// The shared trail's event for one line of the file log.
fn event_of(line: &LineFields, seq: u64) -> Event {
    let text = |field: &Option<String>| field.clone().unwrap_or_default();
    let (action, time) = (text(&line.action), text(&line.time));
    let mut detail = format!("{action} at {time} (local seq {seq})");
    if let Some(d) = &line.detail {
        detail = format!("{action} {d} at {time} (local seq {seq})");
    }
    let mut event = Event::new(text(&line.command), Action::Offline(detail));
    if let Some(account) = &line.account {
        event = event.account(account);
    }
    if line.outcome.as_deref() == Some("error") {
        event = event.outcome(Outcome::Error(text(&line.reason)));
    }
    event
}

fn file_error(context: String, source: std::io::Error) -> AuditError {
    AuditError::File { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast cached login is refused while offline events wait to be copied: a log with
    /// lines past the marker, a marker that does not read, a log that cannot be read.
    #[test]
    fn pending_says_yes_while_lines_past_the_marker_wait() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!pending(dir.path()), "no file log: nothing waits");
        let log = dir.path().join(super::super::LOG_FILE);
        std::fs::write(&log, "{\"seq\":0}\n{\"seq\":1}\n").unwrap();
        assert!(pending(dir.path()), "no marker: every line waits");
        let marker = dir.path().join(MARKER_FILE);
        std::fs::write(&marker, "0").unwrap();
        assert!(pending(dir.path()), "line 1 waits");
        std::fs::write(&marker, "1").unwrap();
        assert!(!pending(dir.path()), "all copied");
        std::fs::write(&marker, "garbled").unwrap();
        assert!(pending(dir.path()), "a marker that does not read");
        std::fs::remove_file(&log).unwrap();
        std::fs::create_dir(&log).unwrap();
        assert!(pending(dir.path()), "a log that cannot be read");
    }
}
