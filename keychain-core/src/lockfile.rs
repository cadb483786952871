//! The one way keychain takes a lock file: an exclusive `flock`, waited for at most the lock
//! timeout, with the holder's identity written into the file.
//!
//! Every lock file of a keychain goes through [`acquire`]: an account's (`locks/NAME.lock`), the
//! audit log's and anchor's (`audit.lock`), the shared trail's local copy
//! (`shared-audit.lock`) and a one-machine member space (`members/.lock`). A holder that
//! stopped (SIGSTOP, a hung NFS server, a debugger) keeps its lock for ever; a waiter therefore
//! polls with `try_lock` on the monotonic clock and gives up after the timeout with
//! [`LockBusy`], which names the holder: its pid, host and since when.
//!
//! The identity (`{"pid":..,"host":"..","since":..}`) is written into the lock file itself once
//! the lock is held. The lock is the `flock` on the file's inode, which this never renames or
//! replaces, so writing the content cannot break the lock; a waiter that reads it mid-write
//! sees a partial text and ignores it. The pid also comes from the kernel (`/proc/locks`),
//! which knows the holder even when it wrote nothing (an older keychain, `flock(1)`); written
//! content that names another pid is a stale one of an earlier holder and is not shown.
//! It must never hold anything secret: it is readable by the file's owner like any lock.
#![deny(missing_docs)]

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// How long a command waits for another process to release a lock, by default
/// (`--lock-timeout`, [`crate::settings`]).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Who holds a lock, as far as it can be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Its process id (as this process's pid namespace sees it).
    pub pid: u32,
    /// Its host name, when it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When it took the lock (Unix seconds, its wall clock), when it wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(host) = &self.host {
            // A host name is the holder's text: shown escaped, and short.
            let host: String = host.chars().take(64).collect();
            write!(f, " on {}", host.escape_debug())?;
        }
        if let Some(since) = self.since {
            write!(f, " since {}", crate::clock::rfc3339(since))?;
        }
        Ok(())
    }
}

/// Another process held the lock for the whole wait.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} ({}) is locked by {}; gave up after {}",
    path.display(),
    holder.as_ref().map_or_else(|| "another process".to_string(), |h| h.to_string()),
    crate::text::duration(*waited))]
pub struct LockBusy {
    /// What the lock guards, for people ("the audit log", "account 'acme'").
    pub what: String,
    /// The lock file.
    pub path: PathBuf,
    /// How long was waited.
    pub waited: Duration,
    /// The holder, when known.
    pub holder: Option<Holder>,
}

impl crate::exit::Failure for LockBusy {
    fn class(&self) -> crate::exit::Class {
        crate::exit::Class::Unavailable
    }

    fn hint(&self) -> Option<String> {
        Some(match &self.holder {
            Some(h) => format!(
                "another keychain process holds it: wait for it, or if process {} is stopped or hung (ps -o pid,stat,args -p {}), resume or end it; give --lock-timeout SECONDS to wait longer",
                h.pid, h.pid
            ),
            None => "another keychain process holds it; try again later, or give --lock-timeout SECONDS to wait longer".into(),
        })
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Held by another process for the whole timeout.
    #[error(transparent)]
    Busy(#[from] LockBusy),
    /// The lock file could not be opened or locked.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A held lock: released when dropped (and by the kernel when the process dies).
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Takes the exclusive lock on `path` (created 0600 if missing, never truncated before it is
/// held), waiting at most `timeout`; `what` names it in messages. Writes this process's
/// identity into it once held.
pub fn acquire(path: &Path, what: &str, timeout: Duration) -> Result<Held, LockError> {
    let file = fsutil::open_private(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .map_err(|source| LockError::Io {
        what: "open the lock file",
        path: path.to_path_buf(),
        source,
    })?;
    // Monotonic, not the keychain's `Clock`: this measures how long this process waited, which
    // a wall clock set back or forward must not cut short or stretch.
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut waiting = None;
    loop {
        match file.try_lock() {
            Ok(()) => {
                write_identity(&file);
                return Ok(Held { _file: file });
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError::Io {
                    what: "lock",
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        if waiting.is_none() {
            let holder = holder_of(&file).map_or_else(String::new, |h| format!(" ({h})"));
            waiting = Some(crate::progress::waiting(&format!(
                "waiting for {what}: another keychain process{holder} is using it"
            )));
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockBusy {
                what: what.to_string(),
                path: path.to_path_buf(),
                waited: timeout,
                holder: holder_of(&file),
            }
            .into());
        }
        // Short pauses at first (most holders finish in milliseconds), growing to 50 ms.
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Writes who holds the lock into it. Best effort: a lock whose identity could not be written
/// is still held, and the kernel still knows the pid.
fn write_identity(file: &File) {
    use std::os::unix::fs::FileExt;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let me = Holder {
        pid: std::process::id(),
        host: Some(crate::host::host_name()),
        since: Some(since),
    };
    let Ok(mut text) = serde_json::to_vec(&me) else {
        return;
    };
    text.push(b'\n');
    // Written over the old holder, then cut to its length: never emptied first. Emptying
    // frees the file's block, and on a filesystem mounted with `discard` that is a synchronous
    // discard per lock taken (0.3-7 ms measured, as much as the audit log's fdatasync). A
    // reader takes the first line, which is whole either way.
    let _ = file
        .write_all_at(&text, 0)
        .and_then(|()| file.set_len(text.len() as u64));
}

/// The holder of the lock on `file`: the pid the kernel reports, with the host and time the
/// holder wrote when they belong to that pid.
fn holder_of(file: &File) -> Option<Holder> {
    let written = read_identity(file);
    match kernel_holder(file) {
        Some(pid) => Some(match written {
            Some(w) if w.pid == pid => w,
            _ => Holder {
                pid,
                host: None,
                since: None,
            },
        }),
        // No /proc (not Linux): what was written, which a holder writes as it takes the lock.
        None => written,
    }
}

fn read_identity(file: &File) -> Option<Holder> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 512];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = buf[..n].split(|&b| b == b'\n').next()?;
    serde_json::from_slice(text).ok()
}

/// The pid holding an exclusive `flock` on `file`'s inode, from `/proc/locks`.
fn kernel_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let ino = meta.ino();
    let (major, minor) = (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev()));
    holder_in(&locks, major, minor, ino)
}

/// Parses `/proc/locks` lines such as `1: FLOCK  ADVISORY  WRITE 4242 00:2b:1311 0 EOF` (a
/// waiter's line carries `->` after the number and is skipped).
fn holder_in(locks: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    locks.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let _number = words.next()?;
        let kind = words.next()?;
        if kind != "FLOCK" {
            return None;
        }
        let _advisory = words.next()?;
        let _mode = words.next()?;
        let pid: u32 = words.next()?.parse().ok()?;
        let mut place = words.next()?.split(':');
        let maj = u32::from_str_radix(place.next()?, 16).ok()?;
        let min = u32::from_str_radix(place.next()?, 16).ok()?;
        let inode: u64 = place.next()?.parse().ok()?;
        (maj == major && min == minor && inode == ino && pid != 0).then_some(pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_name_the_holder_of_the_inode_and_skip_waiters() {
        let locks = "1: POSIX  ADVISORY  WRITE 10 00:2b:99 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fd:01:1311 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 77 fd:01:1311 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5 fd:01:1312 0 EOF\n";
        assert_eq!(holder_in(locks, 0xfd, 1, 1311), Some(4242));
        assert_eq!(holder_in(locks, 0xfd, 1, 1400), None);
        assert_eq!(holder_in(locks, 0, 0x2b, 99), None, "not a flock");
    }

    #[test]
    fn a_second_taker_gives_up_after_the_timeout_naming_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = acquire(&path, "the thing", Duration::from_secs(1)).unwrap();
        let start = Instant::now();
        let err = acquire(&path, "the thing", Duration::from_millis(200)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(200));
        let LockError::Busy(busy) = err else {
            panic!("{err}")
        };
        let holder = busy.holder.clone().expect("the holder is known");
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.host, Some(crate::host::host_name()));
        assert!(holder.since.is_some());
        let text = busy.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("the thing"), "{text}");
        drop(held);
        acquire(&path, "the thing", Duration::from_millis(200)).unwrap();
    }

    /// The holder is written over the previous one and cut to its length (not emptied first,
    /// which costs a discard on some filesystems): nothing of a longer previous holder stays.
    #[test]
    fn taking_the_lock_replaces_a_longer_previous_holder_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let old = format!(
            "{{\"pid\":1,\"host\":\"{}\",\"since\":5}}\n",
            "h".repeat(300)
        );
        std::fs::write(&path, &old).unwrap();
        let held = acquire(&path, "the thing", Duration::from_secs(1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() < old.len(), "{text}");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        assert!(text.ends_with('\n'));
        let holder: Holder = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(holder.pid, std::process::id());
        drop(held);
    }

    #[test]
    fn a_stale_identity_of_another_pid_is_not_shown_as_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        std::fs::write(&path, b"{\"pid\":1,\"host\":\"elsewhere\",\"since\":5}\n").unwrap();
        let file = File::open(&path).unwrap();
        file.lock().unwrap();
        let other = File::open(&path).unwrap();
        let holder = holder_of(&other).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.host, None);
    }
}
