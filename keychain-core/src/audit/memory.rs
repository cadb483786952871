//! An audit trail in memory that fails on purpose: for unit tests of what a transaction does
//! when the trail refuses to begin or to take its events (`Keychain::commit`'s undo), without
//! files or OpenBao. Test-only: a trail that persists nothing must never log a real keychain.
#![deny(missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{AuditError, AuditKey, Event, Trail, Transaction, VerifyReport};

/// The events committed so far, and the failures planned. A clone is the same trail (a test
/// keeps one to plan failures while the keychain holds the other).
#[derive(Default, Clone)]
pub struct MemoryTrail {
    events: Arc<Mutex<Vec<Event>>>,
    begins: Arc<Mutex<u64>>,
    commits: Arc<Mutex<u64>>,
    fail_begin: Arc<Mutex<Option<u64>>>,
    fail_commit: Arc<Mutex<Option<u64>>>,
}

impl MemoryTrail {
    /// An empty trail that fails nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`th [`Trail::begin`] from now on (counting from 1) fail, once.
    pub fn fail_begin(&self, n: u64) {
        *self.fail_begin.lock().unwrap() = Some(*self.begins.lock().unwrap() + n);
    }

    /// Makes the `n`th [`Transaction::commit`] from now on (counting from 1) fail, once: the
    /// append after the record was written.
    pub fn fail_commit(&self, n: u64) {
        *self.fail_commit.lock().unwrap() = Some(*self.commits.lock().unwrap() + n);
    }

    /// Every event committed, in order.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn counter(&self, account: &str) -> Option<u64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.account.as_deref() == Some(account))
            .filter_map(|e| e.counter)
            .max()
    }
}

/// The failure a test asked for: a full disk, as the file log would meet it.
fn injected(what: &'static str) -> AuditError {
    AuditError::Io {
        what,
        path: PathBuf::from("memory/audit.log"),
        source: std::io::Error::other("injected"),
    }
}

/// Counts one more call and says whether it is the one planned to fail.
fn due(count: &Mutex<u64>, planned: &Mutex<Option<u64>>) -> bool {
    let mut count = count.lock().unwrap();
    *count += 1;
    let mut planned = planned.lock().unwrap();
    if *planned == Some(*count) {
        *planned = None;
        return true;
    }
    false
}

struct MemoryTransaction<'a>(&'a MemoryTrail);

impl Transaction for MemoryTransaction<'_> {
    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        Ok(self.0.counter(account))
    }

    fn commit(self: Box<Self>, events: &[Event]) -> Result<(), AuditError> {
        if due(&self.0.commits, &self.0.fail_commit) {
            return Err(injected("append to"));
        }
        self.0.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

impl Trail for MemoryTrail {
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, AuditError> {
        if due(&self.begins, &self.fail_begin) {
            return Err(injected("lock"));
        }
        Ok(Box::new(MemoryTransaction(self)))
    }

    fn last_counter(&self, account: &str) -> Result<Option<u64>, AuditError> {
        Ok(self.counter(account))
    }

    fn all_counters(&self) -> Result<HashMap<String, u64>, AuditError> {
        let mut all = HashMap::new();
        for event in self.events.lock().unwrap().iter() {
            if let (Some(account), Some(counter)) = (&event.account, event.counter) {
                let slot = all.entry(account.clone()).or_insert(counter);
                *slot = (*slot).max(counter);
            }
        }
        Ok(all)
    }

    fn files(&self) -> Result<Vec<PathBuf>, AuditError> {
        Ok(Vec::new())
    }

    fn verify(&self, _key: &AuditKey) -> Result<VerifyReport, AuditError> {
        Ok(VerifyReport::default())
    }
}
