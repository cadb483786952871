//! Where records live, behind one small interface: read, compare-and-swap write, list, lock.
//!
//! The store sees only sealed bytes (age ciphertext plus the public header): it never holds a key.
//! Today there is one implementation, [`local::LocalStore`], a folder of files; a store shared by
//! several machines (OpenBao KV v2 with check-and-set, its lock a lease) fits the same trait so
//! that they can share one account's refresh-token chain.
#![deny(missing_docs)]

pub mod kv;
pub mod local;
#[cfg(test)]
pub mod memory;
pub mod openbao;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exit::{Class, Failure};

/// The store a keychain's configuration names: the one place a store is chosen. `dir` is the
/// keychain folder (the local store's records; the shared store's local read-only copy).
/// A shared store's lock keys get the default lease; see [`open_with_lease`].
pub fn open(dir: &std::path::Path, kind: &StoreKind) -> Result<Box<dyn RecordStore>, StoreError> {
    open_with_lease(dir, kind, openbao::lease::DEFAULT_LEASE)
}

/// [`open`] with the lease a shared store gives the lock keys it creates (`Settings`).
pub fn open_with_lease(
    dir: &std::path::Path,
    kind: &StoreKind,
    lease: Duration,
) -> Result<Box<dyn RecordStore>, StoreError> {
    match kind {
        StoreKind::Local => Ok(Box::new(local::LocalStore::open(dir)?)),
        StoreKind::Openbao(settings) => Ok(Box::new(
            openbao::OpenBaoStore::open(settings, lease)?.keep_copies_in(dir),
        )),
    }
}

/// Where a keychain's records live (the configuration names one; [`open`] opens it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StoreKind {
    /// Files in the keychain folder (`accounts/`, `locks/`).
    #[default]
    Local,
    /// OpenBao (or Vault) KV version 2, shared by several machines.
    Openbao(openbao::OpenBaoSettings),
}

impl StoreKind {
    /// The records live in the keychain's own folder (the default).
    pub fn is_local(&self) -> bool {
        matches!(self, StoreKind::Local)
    }
}

/// `local store`, or `shared store openbao://host/mount/prefix`, for reports.
impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Local => f.write_str("local store"),
            StoreKind::Openbao(s) => write!(
                f,
                "shared store openbao://{}/{}/{}",
                s.host(),
                s.mount,
                s.path
            ),
        }
    }
}

/// Identifies the content a reader saw, for compare-and-swap. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision(
    /// A digest of the bytes (a local file) or a version number (a shared store), as text.
    pub String,
);

/// A record as read from the store.
pub struct RawRecord {
    /// The sealed record: age ciphertext and its public header.
    pub bytes: Vec<u8>,
    /// What was read, to write back against.
    pub revision: Revision,
}

/// What a write expects to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The account must not exist yet.
    Absent,
    /// The account must still be at this revision.
    At(Revision),
    /// Replace whatever is there (only for `add --replace`).
    Any,
}

/// What a listing found: the accounts, and entries named like records that are not regular
/// files (a FIFO, a device, a folder), skipped without being opened so that nothing can hang
/// on them; callers warn about them.
#[derive(Debug, Default)]
pub struct Listing {
    /// The account names, sorted.
    pub names: Vec<String>,
    /// Entries named like records that are not regular files, left unopened.
    pub strays: Vec<PathBuf>,
}

/// Proof that the caller holds an account's exclusive lock; released on drop (and by the kernel
/// when the process dies).
pub trait AccountLock: Send {
    /// The account the lock is for.
    fn account(&self) -> &str;
    /// `Ok` while the lock surely lasts for one more write. A file lock lasts until dropped; a
    /// lease across machines can run out, and its holder must then stop acting.
    fn still_held(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A place where sealed records live: a folder of files, or a store shared by several
/// machines. It holds ciphertext only and never a key. Every write is made under the
/// account's lock and names what it expects to replace ([`Expect`]), so a refresh token rotated
/// by one process is not overwritten by another's stale copy.
pub trait RecordStore: Send + Sync {
    /// The record of `name`, or `None` when there is no such account.
    fn read(&self, name: &str) -> Result<Option<RawRecord>, StoreError>;
    /// Writes `bytes` as the record of the locked account if it is still as `expect` says.
    fn write(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        bytes: &[u8],
    ) -> Result<Revision, StoreError>;
    /// Removes the locked account's record.
    fn remove(&self, lock: &dyn AccountLock) -> Result<(), StoreError>;
    /// Names of all accounts, sorted, and what was skipped.
    fn listing(&self) -> Result<Listing, StoreError>;
    /// Names of all accounts, sorted.
    fn list(&self) -> Result<Vec<String>, StoreError> {
        self.listing().map(|listing| listing.names)
    }
    /// Takes the account's exclusive lock, waiting at most `timeout`.
    fn lock(&self, name: &str, timeout: Duration) -> Result<Box<dyn AccountLock>, StoreError>;
    /// Where the account's record lives, for messages (a path, or a URL-like name elsewhere).
    fn location(&self, name: &str) -> Location;
    /// The last sealed bytes of `name` this machine saw, when the store keeps a local
    /// read-only copy (a shared store, for `login` while the server is down); never written
    /// back, only opened.
    fn last_seen(&self, _name: &str) -> Option<Vec<u8>> {
        None
    }
    /// Keeps `bytes`, read as `name`'s record and found authentic by the caller, as the local
    /// read-only copy [`RecordStore::last_seen`] gives back (a shared store's; others keep none).
    /// Only what was checked is kept: a record planted in the store must never become what
    /// `login` serves while the store is down.
    fn keep_copy(&self, _name: &str, _bytes: &[u8]) {}
    /// The versioned space beside the records where a store shared by several machines keeps
    /// the member list, the group keys and the audit trail; `None` for a store of one machine.
    /// Given by the store so that both use one client (one login, one connection pool).
    fn shared_space(&self) -> Option<std::sync::Arc<dyn kv::Kv>> {
        None
    }
}

/// Where a record lives, for messages: a file, or a place in a shared store that prints as
/// `openbao://host/mount/path/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file of the local store.
    File(PathBuf),
    /// A place in a shared store, as an `openbao://` URL (no token or secret in it).
    Remote(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Remote(url) => f.write_str(url),
        }
    }
}

/// For errors that carry a path: a remote location becomes a path that prints as its URL.
impl From<Location> for PathBuf {
    fn from(location: Location) -> PathBuf {
        match location {
            Location::File(path) => path,
            Location::Remote(url) => PathBuf::from(url),
        }
    }
}

/// Why a store operation failed. Names accounts and places, never a record's content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account name that is not allowed (it would become part of a path or a key); given.
    #[error("'{0}' is not a valid account name")]
    BadName(String),
    /// The account (given) exists, and the write expected it not to.
    #[error("account '{0}' already exists")]
    Exists(String),
    /// The account (given) changed since it was read; nothing was written.
    #[error("account '{0}' was changed by another process meanwhile")]
    Conflict(String),
    /// No such account (given).
    #[error("no account named '{0}'")]
    NotFound(String),
    /// Another process held the account's lock for the whole wait.
    #[error("account '{account}' is locked by {}; gave up after {}",
        holder.as_ref().map_or_else(|| "another process".to_string(), |h| h.to_string()),
        crate::text::duration(*.waited))]
    LockTimeout {
        /// The account.
        account: String,
        /// How long was waited.
        waited: Duration,
        /// Who holds it (pid, host, since when), when known.
        holder: Option<Box<crate::lockfile::Holder>>,
    },
    /// Another process held another lock of the store (a member space's) for the whole wait.
    #[error(transparent)]
    Busy(Box<crate::lockfile::LockBusy>),
    /// An entry named like a record that is not one: not a regular file or too large (left
    /// unread), or a shared store's entry without a well-formed record field.
    #[error("{} is not a record: {reason}", path.display())]
    NotARecord {
        /// The entry.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// A folder or file of the store that another user could write (or owns).
    #[error("{path}: {detail}; keychain refuses to use it", path = path.display())]
    WritableByOthers {
        /// The file or folder.
        path: PathBuf,
        /// Who owns it or can write it.
        detail: String,
        /// What to check and the command that makes it private again.
        fix: String,
    },
    /// Reading or writing the store's files failed.
    #[error("{context}: {source}")]
    Io {
        /// What keychain was doing, naming the file.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The shared store on OpenBao could not do what was asked.
    #[error(transparent)]
    Bao(#[from] openbao::BaoError),
}

impl StoreError {
    /// The documented exit code of this error's class.
    pub fn exit_code(&self) -> i32 {
        self.class().exit_code()
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::Exists(_) => {
                // Raised by several commands, not all of which have --replace: no flag named.
                Some("choose another name, or change the existing account with 'keychain set'".into())
            }
            StoreError::BadName(_) => Some(
                "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                    .into(),
            ),
            StoreError::Conflict(_) => Some("run the command again".into()),
            StoreError::NotFound(_) => Some("run 'keychain list' to see the accounts".into()),
            StoreError::LockTimeout {
                holder: Some(h), ..
            } => Some(format!(
                "another keychain process holds the account: wait for it, or if process {} is stopped or hung (ps -o pid,stat,args -p {}), resume or end it; give --lock-timeout SECONDS to wait longer",
                h.pid, h.pid
            )),
            StoreError::LockTimeout { .. } => {
                Some("another keychain process holds the account; try again later".into())
            }
            StoreError::Busy(busy) => busy.hint(),
            StoreError::NotARecord { .. } => Some(
                "someone put this there in place of a record: keep it for an investigation, then remove it".into(),
            ),
            StoreError::WritableByOthers { fix, .. } => Some(fix.clone()),
            StoreError::Bao(e) => e.hint(),
            _ => None,
        }
    }
}

impl Failure for StoreError {
    /// The class of failure ([`crate::exit`]'s table gives its exit code and JSON code).
    fn class(&self) -> Class {
        match self {
            StoreError::BadName(_) | StoreError::Exists(_) | StoreError::Conflict(_) => {
                Class::Usage
            }
            StoreError::NotFound(_) => Class::NotFound,
            StoreError::LockTimeout { .. } | StoreError::Busy(_) => Class::Unavailable,
            StoreError::NotARecord { .. } | StoreError::WritableByOthers { .. } => Class::Integrity,
            StoreError::Io { .. } => Class::Io,
            StoreError::Bao(e) => Class::of_exit_code(e.exit_code()),
        }
    }

    fn hint(&self) -> Option<String> {
        StoreError::hint(self)
    }
}

/// Account names become file names: allow only what is safe everywhere. The check is
/// [`AccountName::parse`](crate::name::AccountName::parse); this is its form for the stores,
/// which take names as text and parse each they are given or list (a folder, OpenBao).
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    crate::name::AccountName::parse(name)
        .map(drop)
        .map_err(StoreError::from)
}

impl From<crate::name::BadName> for StoreError {
    fn from(bad: crate::name::BadName) -> Self {
        StoreError::BadName(bad.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_folder_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", "-x", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["acme", "exact-nl.prod", "A_1"] {
            validate_name(good).unwrap();
        }
    }
}
