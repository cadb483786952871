//! A record store in memory that fails on purpose: for unit tests of what a caller does when a
//! write, a removal or its undo fails, without files or OpenBao (keyring-core ships a mock
//! store for the same reason). Test-only: a store that persists nothing must never be chosen
//! by a real keychain (keyring v3's silent fallback to a mock store is the warning).
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{AccountLock, Expect, Listing, Location, RawRecord, RecordStore, Revision, StoreError};

/// Each account's record: its version and its sealed bytes.
type Records = BTreeMap<String, (u64, Vec<u8>)>;

/// Records in a map, each with a version that every write raises (its [`Revision`]). A clone
/// is the same store (a test keeps one to plan failures while the keychain holds the other).
#[derive(Default, Clone)]
pub struct MemoryStore {
    records: Arc<Mutex<Records>>,
    next_version: Arc<AtomicU64>,
    /// Writes made so far (failed ones included), to fail the Nth.
    writes: Arc<AtomicU64>,
    /// Removals made so far (failed ones included), to fail the Nth.
    removes: Arc<AtomicU64>,
    /// Reads made so far, for tests of how often a caller reads a record.
    reads: Arc<AtomicU64>,
    fail_write: Arc<Mutex<Option<u64>>>,
    fail_remove: Arc<Mutex<Option<u64>>>,
}

/// The lock of an account of a [`MemoryStore`]: a token, since one test holds it.
pub struct MemoryLock(String);

impl AccountLock for MemoryLock {
    fn account(&self) -> &str {
        &self.0
    }
}

impl MemoryStore {
    /// An empty store that fails nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`th write from now on (counting from 1) fail with an I/O error, once.
    pub fn fail_write(&self, n: u64) {
        *self.fail_write.lock().unwrap() = Some(self.writes.load(Ordering::SeqCst) + n);
    }

    /// Makes the `n`th removal from now on (counting from 1) fail with an I/O error, once.
    pub fn fail_remove(&self, n: u64) {
        *self.fail_remove.lock().unwrap() = Some(self.removes.load(Ordering::SeqCst) + n);
    }

    /// How many records have been read so far (each `read`, found or not).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// The bytes of `name`'s record as they are now.
    pub fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.records
            .lock()
            .unwrap()
            .get(name)
            .map(|(_, b)| b.clone())
    }

    fn failure(
        counter: &AtomicU64,
        planned: &Mutex<Option<u64>>,
        what: &str,
    ) -> Option<StoreError> {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let mut planned = planned.lock().unwrap();
        (*planned == Some(n)).then(|| {
            *planned = None;
            StoreError::Io {
                context: format!("{what} (a failure the test asked for)"),
                source: std::io::Error::other("injected"),
            }
        })
    }
}

impl RecordStore for MemoryStore {
    fn read(&self, name: &str) -> Result<Option<RawRecord>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(name)
            .map(|(version, bytes)| RawRecord {
                bytes: bytes.clone(),
                revision: Revision(version.to_string()),
            }))
    }

    fn write(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        bytes: &[u8],
    ) -> Result<Revision, StoreError> {
        if let Some(e) = Self::failure(&self.writes, &self.fail_write, "write") {
            return Err(e);
        }
        let name = lock.account().to_string();
        let mut records = self.records.lock().unwrap();
        let now = records.get(&name).map(|(v, _)| Revision(v.to_string()));
        match (expect, now) {
            (Expect::Absent, Some(_)) => return Err(StoreError::Exists(name)),
            (Expect::At(want), now) if now.as_ref() != Some(&want) => {
                return Err(StoreError::Conflict(name));
            }
            _ => {}
        }
        let version = self.next_version.fetch_add(1, Ordering::SeqCst) + 1;
        records.insert(name, (version, bytes.to_vec()));
        Ok(Revision(version.to_string()))
    }

    fn remove(&self, lock: &dyn AccountLock) -> Result<(), StoreError> {
        if let Some(e) = Self::failure(&self.removes, &self.fail_remove, "remove") {
            return Err(e);
        }
        let name = lock.account().to_string();
        match self.records.lock().unwrap().remove(&name) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(name)),
        }
    }

    fn listing(&self) -> Result<Listing, StoreError> {
        Ok(Listing {
            names: self.records.lock().unwrap().keys().cloned().collect(),
            strays: Vec::new(),
        })
    }

    fn lock(&self, name: &str, _timeout: Duration) -> Result<Box<dyn AccountLock>, StoreError> {
        super::validate_name(name)?;
        Ok(Box::new(MemoryLock(name.to_string())))
    }

    fn location(&self, name: &str) -> Location {
        Location::File(PathBuf::from(format!("memory/{name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_check_their_expectation_and_the_nth_fails_once() {
        let store = MemoryStore::new();
        let lock = store.lock("acme", Duration::ZERO).unwrap();
        let first = store.write(&*lock, Expect::Absent, b"one").unwrap();
        assert!(matches!(
            store.write(&*lock, Expect::Absent, b"two"),
            Err(StoreError::Exists(_))
        ));
        let second = store
            .write(&*lock, Expect::At(first.clone()), b"two")
            .unwrap();
        assert!(matches!(
            store.write(&*lock, Expect::At(first), b"three"),
            Err(StoreError::Conflict(_))
        ));
        store.fail_write(2);
        store.write(&*lock, Expect::At(second), b"three").unwrap();
        assert!(matches!(
            store.write(&*lock, Expect::Any, b"four"),
            Err(StoreError::Io { .. })
        ));
        store.write(&*lock, Expect::Any, b"four").unwrap();
        assert_eq!(store.bytes("acme").unwrap(), b"four");
        store.fail_remove(1);
        assert!(store.remove(&*lock).is_err());
        store.remove(&*lock).unwrap();
        assert!(store.read("acme").unwrap().is_none());
    }
}
