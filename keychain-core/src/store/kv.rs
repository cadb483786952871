//! A small versioned key-value space with check-and-set: where a keychain's shared state lives
//! (the member list, the wrapped group keys, the shared audit trail).
//!
//! The model is OpenBao's KV v2, the target: every key has a version that grows with each write,
//! and every write names the version it replaces ([`KvExpect::At`]) or says the key must not
//! exist yet ([`KvExpect::Absent`], KV v2's `cas: 0`). Two writers can therefore never both
//! believe they wrote the same position. [`LocalKv`] gives the same guarantees in a folder, so
//! a keychain on one machine can use the same code, and so that the logic above is tested on
//! real files without a server.
//!
//! Nothing stored here is secret by itself: group keys are age-encrypted to the members, lists
//! and audit events are MAC'd. This module must never see a plaintext key.
#![deny(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

use crate::exit::Class;
use crate::fsutil;

/// The largest value [`LocalKv`] reads: a member list of a hundred members or a wrapped group
/// key is a few KiB; anything bigger was not written by keychain.
const MAX_VALUE: u64 = 1 << 20;

/// A value and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub bytes: Vec<u8>,
    /// Its version, to write back against ([`KvExpect::At`]).
    pub version: u64,
}

/// What a write expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvExpect {
    /// The key must not exist yet (KV v2: `cas: 0`).
    Absent,
    /// The key must still be at this version.
    At(u64),
}

/// Why a key-value operation failed. Names the place, never a value.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// Someone else wrote the key since it was read (or created it first).
    #[error("{location} was written by another process meanwhile")]
    Conflict {
        /// Where the key is.
        location: String,
    },
    /// A value keychain did not write (or that was damaged); left as it is.
    #[error("{location} holds something keychain did not write: {reason}")]
    Corrupt {
        /// Where the key is.
        location: String,
        /// What is wrong with it, never its content.
        reason: String,
    },
    /// The local space's files could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What keychain was doing, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Another process of this machine held the space's lock for the whole lock timeout.
    #[error(transparent)]
    LockBusy(Box<crate::lockfile::LockBusy>),
    /// OpenBao's own failure (unreachable, sealed, forbidden, token), kept typed so that
    /// `login` can tell a server that is down from one that refuses.
    #[error(transparent)]
    Bao(#[from] crate::store::openbao::BaoError),
}

impl KvError {
    /// The class of failure ([`crate::exit`]'s table gives its exit code and JSON code).
    pub fn class(&self) -> Class {
        match self {
            KvError::Conflict { .. } | KvError::LockBusy(_) => Class::Unavailable,
            KvError::Corrupt { .. } => Class::Integrity,
            KvError::Io { .. } => Class::Io,
            KvError::Bao(e) => Class::of_exit_code(e.exit_code()),
        }
    }

    /// The documented exit code of this error's class.
    pub fn exit_code(&self) -> i32 {
        self.class().exit_code()
    }
}

/// A read [`Kv::get_started`] asked for: called, it gives the answer (waiting for it if need be).
pub type PendingGet<'a> = Box<dyn FnOnce() -> Result<Option<Versioned>, KvError> + 'a>;

/// A write [`Kv::put_started`] sent: called, it gives the answer (waiting for it if need be).
pub type PendingPut<'a> = Box<dyn FnOnce() -> Result<u64, KvError> + 'a>;

/// A versioned key-value space. Keys are `/`-separated paths of `[a-z0-9_-]` segments.
pub trait Kv: Send + Sync {
    /// The value under `key` and its version, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Versioned>, KvError>;
    /// [`Kv::get`] asked now and answered when the returned function is called: a store across
    /// the network overlaps its round trip with whatever the caller does meanwhile. Here: read
    /// at once.
    fn get_started(&self, key: &str) -> PendingGet<'_> {
        let got = self.get(key);
        Box::new(move || got)
    }
    /// Writes `bytes` under `key` if it is as `expect` says; returns the new version.
    fn put(&self, key: &str, bytes: &[u8], expect: KvExpect) -> Result<u64, KvError>;
    /// [`Kv::put`] sent now and answered when the returned function is called: a store across
    /// the network overlaps its round trip with whatever the caller does meanwhile. Here:
    /// written at once.
    fn put_started(&self, key: &str, bytes: &[u8], expect: KvExpect) -> PendingPut<'_> {
        let put = self.put(key, bytes, expect);
        Box::new(move || put)
    }
    /// Where `key` lives, for messages: a path, or `openbao://host/mount/path/KEY`.
    fn location(&self, key: &str) -> String;
}

/// Refuses keys that could leave the space (`..`, absolute paths) or mean different things on
/// different stores.
pub fn check_key(key: &str) -> Result<(), KvError> {
    let ok = !key.is_empty()
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(KvError::Corrupt {
            location: key.escape_debug().to_string(),
            reason: "not a valid key".into(),
        })
    }
}

/// [`Kv`] in a private folder: one file per key, `v<version>\n` then the value, replaced
/// atomically (temp, fsync, rename, fsync folder) under one `flock` for the whole space, so a
/// check-and-set is a read and a write under that lock.
#[derive(Debug, Clone)]
pub struct LocalKv {
    root: PathBuf,
    /// How long a write waits for another process holding the space's lock.
    lock_timeout: std::time::Duration,
}

impl LocalKv {
    /// The space in `root`, created (0700) if missing.
    pub fn open(root: &Path) -> Result<Self, KvError> {
        fsutil::ensure_private_dir(root).map_err(|e| io_err("create", root, e))?;
        Ok(LocalKv {
            root: root.to_path_buf(),
            lock_timeout: crate::lockfile::DEFAULT_LOCK_TIMEOUT,
        })
    }

    /// The same space, waiting at most `timeout` for another process that holds its lock.
    pub fn waiting_at_most(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    fn path(&self, key: &str) -> Result<PathBuf, KvError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn lock(&self) -> Result<crate::lockfile::Held, KvError> {
        let path = self.root.join(".lock");
        crate::lockfile::acquire(&path, "the member list", self.lock_timeout).map_err(|e| match e {
            crate::lockfile::LockError::Busy(busy) => KvError::LockBusy(Box::new(busy)),
            crate::lockfile::LockError::Io { what, path, source } => io_err(what, &path, source),
        })
    }

    fn read_at(&self, key: &str, path: &Path) -> Result<Option<Versioned>, KvError> {
        let bytes = match fsutil::read_regular(path, MAX_VALUE) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", path, e)),
        };
        let corrupt = |reason: &str| KvError::Corrupt {
            location: self.location(key),
            reason: reason.into(),
        };
        let end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| corrupt("no version line"))?;
        let version = std::str::from_utf8(&bytes[..end])
            .ok()
            .and_then(|line| line.strip_prefix('v'))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| corrupt("no version line"))?;
        Ok(Some(Versioned {
            bytes: bytes[end + 1..].to_vec(),
            version,
        }))
    }
}

impl Kv for LocalKv {
    fn get(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        let path = self.path(key)?;
        self.read_at(key, &path)
    }

    fn put(&self, key: &str, bytes: &[u8], expect: KvExpect) -> Result<u64, KvError> {
        let path = self.path(key)?;
        let _lock = self.lock()?;
        let current = self.read_at(key, &path)?.map(|v| v.version);
        let next = match (expect, current) {
            (KvExpect::Absent, None) => 1,
            (KvExpect::At(want), Some(have)) if want == have => have + 1,
            _ => {
                return Err(KvError::Conflict {
                    location: self.location(key),
                });
            }
        };
        let parent = fsutil::parent_of(&path);
        fsutil::ensure_private_dir(&parent).map_err(|e| io_err("create", &parent, e))?;
        let mut content = format!("v{next}\n").into_bytes();
        content.extend_from_slice(bytes);
        fsutil::write_atomic(&path, &content).map_err(|e| io_err("write", &path, e))?;
        Ok(next)
    }

    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

fn io_err(what: &str, path: &Path, source: io::Error) -> KvError {
    KvError::Io {
        context: format!("cannot {what} {}", path.display()),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_created_once_and_replaced_only_at_the_version_read() {
        let dir = tempfile::tempdir().unwrap();
        let kv = LocalKv::open(dir.path()).unwrap();
        assert_eq!(kv.get("audit/0").unwrap(), None);
        assert_eq!(kv.put("audit/0", b"one", KvExpect::Absent).unwrap(), 1);
        assert!(matches!(
            kv.put("audit/0", b"two", KvExpect::Absent),
            Err(KvError::Conflict { .. })
        ));
        assert!(matches!(
            kv.put("audit/0", b"two", KvExpect::At(2)),
            Err(KvError::Conflict { .. })
        ));
        assert_eq!(kv.put("audit/0", b"two", KvExpect::At(1)).unwrap(), 2);
        let read = kv.get("audit/0").unwrap().unwrap();
        assert_eq!((read.bytes.as_slice(), read.version), (&b"two"[..], 2));
    }

    #[test]
    fn keys_that_could_leave_the_space_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kv = LocalKv::open(dir.path()).unwrap();
        for bad in ["", "../x", "/abs", "a//b", "A", "a/.", "a b"] {
            assert!(kv.get(bad).is_err(), "{bad:?}");
            assert!(kv.put(bad, b"x", KvExpect::Absent).is_err(), "{bad:?}");
        }
    }
}
