//! Records as files in the keychain folder: `accounts/<name>.kcr`, locks in `locks/<name>.lock`.
//!
//! Writers hold the account's `flock` (released by the kernel when a process dies), compare the
//! current content with the revision they read, then replace the file atomically. Readers take no
//! lock: a rename is atomic, so they see the old or the new record, never a mix.
#![deny(missing_docs)]

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{
    AccountLock, Expect, Listing, Location, RawRecord, RecordStore, Revision, StoreError,
    validate_name,
};
use crate::fsutil;

const EXTENSION: &str = "kcr";

/// Records are kilobytes; anything near this is not one, and is refused before it is read
/// into memory.
const MAX_RECORD: u64 = 16 << 20;

/// The records of a keychain folder, one file per account, each written atomically under the
/// account's `flock`.
pub struct LocalStore {
    accounts: PathBuf,
    locks: PathBuf,
}

struct FileLock {
    account: String,
    // Held for its flock; dropping it releases it.
    _held: crate::lockfile::Held,
}

impl AccountLock for FileLock {
    fn account(&self) -> &str {
        &self.account
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

fn revision_of(bytes: &[u8]) -> Revision {
    Revision(crate::encoding::hex(&Sha256::digest(bytes)))
}

impl LocalStore {
    /// Opens the store in the keychain folder `dir`, creating its private sub-folders.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let store = LocalStore {
            accounts: dir.join("accounts"),
            locks: dir.join("locks"),
        };
        for sub in [&store.accounts, &store.locks] {
            if !sub.is_dir() {
                fsutil::ensure_private_dir(sub)
                    .map_err(io(format!("cannot create {}", sub.display())))?;
            }
        }
        Ok(store)
    }

    /// The file that holds account `name` (whether or not it exists). `name` must already be a
    /// valid account name: it becomes part of a path.
    pub fn record_path(&self, name: &str) -> PathBuf {
        self.accounts.join(format!("{name}.{EXTENSION}"))
    }

    /// Reads a record, refusing one that another user could have written (checked on the
    /// opened file, so a rename in between cannot swap in another).
    fn read_path(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let cannot_read = || io(format!("cannot read {}", path.display()));
        let not_a_record = |e: std::io::Error| StoreError::NotARecord {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        // Never a blocking open: a FIFO named like a record would hang every reader.
        let file = match fsutil::open_regular(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == ErrorKind::InvalidInput => return Err(not_a_record(e)),
            Err(e) => return Err(cannot_read()(e)),
        };
        let meta = file.metadata().map_err(cannot_read())?;
        if let Some((detail, fix)) = fsutil::writable_by_others(path, &meta) {
            return Err(StoreError::WritableByOthers {
                path: path.to_path_buf(),
                detail,
                fix,
            });
        }
        match fsutil::read_capped(file, meta.len(), MAX_RECORD) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::FileTooLarge => Err(not_a_record(e)),
            Err(e) => Err(cannot_read()(e)),
        }
    }
}

impl RecordStore for LocalStore {
    fn read(&self, name: &str) -> Result<Option<RawRecord>, StoreError> {
        validate_name(name)?;
        Ok(self.read_path(&self.record_path(name))?.map(|bytes| {
            let revision = revision_of(&bytes);
            RawRecord { bytes, revision }
        }))
    }

    fn write(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        bytes: &[u8],
    ) -> Result<Revision, StoreError> {
        let name = lock.account();
        let path = self.record_path(name);
        fsutil::remove_leftover_temp(&path);
        let current = self.read_path(&path)?;
        match (&expect, &current) {
            (Expect::Any, _) | (Expect::Absent, None) => {}
            (Expect::Absent, Some(_)) => return Err(StoreError::Exists(name.to_string())),
            (Expect::At(_), None) => return Err(StoreError::NotFound(name.to_string())),
            (Expect::At(rev), Some(bytes)) if revision_of(bytes) != *rev => {
                return Err(StoreError::Conflict(name.to_string()));
            }
            (Expect::At(_), Some(_)) => {}
        }
        fsutil::write_atomic(&path, bytes)
            .map_err(io(format!("cannot write {}", path.display())))?;
        Ok(revision_of(bytes))
    }

    fn remove(&self, lock: &dyn AccountLock) -> Result<(), StoreError> {
        let name = lock.account();
        let path = self.record_path(name);
        fsutil::remove_leftover_temp(&path);
        match fsutil::remove_durable(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(StoreError::NotFound(name.to_string()))
            }
            Err(e) => Err(io(format!("cannot remove {}", path.display()))(e)),
        }
    }

    fn listing(&self) -> Result<Listing, StoreError> {
        let entries = fs::read_dir(&self.accounts)
            .map_err(io(format!("cannot list {}", self.accounts.display())))?;
        let mut names = Vec::new();
        let mut strays = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("cannot list {}", self.accounts.display())))?;
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            // Temporary files start with a dot and are skipped with everything else that is not a record.
            if let Some(name) = file_name.strip_suffix(&format!(".{EXTENSION}"))
                && validate_name(name).is_ok()
            {
                // Followed like a read would (a link to a record still works), but only looked
                // at, never opened: a FIFO here must not hang the listing. The entry's own type
                // (from the folder listing; std falls back to lstat where the file system gives
                // none) costs no system call per record; only links are followed with stat.
                let is_file = match entry.file_type() {
                    Ok(kind) if kind.is_symlink() => {
                        fs::metadata(entry.path()).is_ok_and(|meta| meta.is_file())
                    }
                    Ok(kind) => kind.is_file(),
                    Err(_) => false,
                };
                if is_file {
                    names.push(name.to_string());
                } else {
                    strays.push(entry.path());
                }
            }
        }
        names.sort();
        strays.sort();
        Ok(Listing { names, strays })
    }

    fn location(&self, name: &str) -> Location {
        Location::File(self.record_path(name))
    }

    fn lock(&self, name: &str, timeout: Duration) -> Result<Box<dyn AccountLock>, StoreError> {
        validate_name(name)?;
        let path = self.locks.join(format!("{name}.lock"));
        match crate::lockfile::acquire(&path, &format!("account '{name}'"), timeout) {
            Ok(held) => Ok(Box::new(FileLock {
                account: name.to_string(),
                _held: held,
            })),
            Err(crate::lockfile::LockError::Busy(busy)) => Err(StoreError::LockTimeout {
                account: name.to_string(),
                waited: busy.waited,
                holder: busy.holder.map(Box::new),
            }),
            Err(crate::lockfile::LockError::Io { what, path, source }) => {
                Err(io(format!("cannot {what} {}", path.display()))(source))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_refuses_a_stale_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let lock = store.lock("a", Duration::from_secs(1)).unwrap();
        let r1 = store.write(&*lock, Expect::Absent, b"one").unwrap();
        assert!(matches!(
            store.write(&*lock, Expect::Absent, b"x"),
            Err(StoreError::Exists(_))
        ));
        let r2 = store.write(&*lock, Expect::At(r1.clone()), b"two").unwrap();
        assert!(matches!(
            store.write(&*lock, Expect::At(r1), b"three"),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.read("a").unwrap().unwrap().revision, r2);
        assert_eq!(store.list().unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn listing_follows_links_to_records_and_sets_aside_everything_else() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let lock = store.lock("real", Duration::from_secs(1)).unwrap();
        store.write(&*lock, Expect::Absent, b"one").unwrap();
        let accounts = dir.path().join("accounts");
        symlink(accounts.join("real.kcr"), accounts.join("linked.kcr")).unwrap();
        symlink(accounts.join("nowhere.kcr"), accounts.join("dangling.kcr")).unwrap();
        fs::create_dir(accounts.join("folder.kcr")).unwrap();
        symlink(accounts.join("folder.kcr"), accounts.join("to-folder.kcr")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(accounts.join("fifo.kcr"))
            .status()
            .unwrap();
        assert!(made.success());

        let listing = store.listing().unwrap();
        assert_eq!(
            listing.names,
            vec!["linked".to_string(), "real".to_string()]
        );
        let strays: Vec<String> = listing
            .strays
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            strays,
            ["dangling.kcr", "fifo.kcr", "folder.kcr", "to-folder.kcr"]
        );
    }

    #[test]
    fn second_lock_waits_and_times_out_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let held = store.lock("a", Duration::from_secs(1)).unwrap();
        let err = store.lock("a", Duration::from_millis(50)).err().unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }));
        drop(held);
        store.lock("a", Duration::from_millis(50)).unwrap();
    }
}
