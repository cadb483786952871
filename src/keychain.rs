//! An opened keychain: its folder, configuration, record store and (on demand) its identity.
//!
//! Commands go through this type to read and write accounts, so that every write is sealed to
//! all configured recipients, made under the account's lock and compared with what was read.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::keystore::{self, Identity};
use crate::record::{self, Account, Header, RecordError};
use crate::store::local::LocalStore;
use crate::store::{AccountLock, Expect, RecordStore, Revision, StoreError};

/// How long a command waits for another process to release an account, unless
/// `KEYCHAIN_LOCK_TIMEOUT` (seconds) says otherwise.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Keychain {
    pub dir: PathBuf,
    pub config: Config,
    /// Where records live; the rest of keychain sees only the trait.
    store: Box<dyn RecordStore>,
    identity: OnceCell<Identity>,
}

impl Keychain {
    /// Opens an initialised keychain; reads no secret yet.
    pub fn open(dir: &Path) -> Result<Self> {
        let config = Config::load(dir)?;
        let store = Box::new(LocalStore::open(dir)?);
        Ok(Keychain {
            dir: dir.to_path_buf(),
            config,
            store,
            identity: OnceCell::new(),
        })
    }

    pub fn store(&self) -> &dyn RecordStore {
        &*self.store
    }

    /// The identity, fetched from the key store at first use.
    pub fn identity(&self) -> Result<&Identity> {
        if let Some(identity) = self.identity.get() {
            return Ok(identity);
        }
        let identity = keystore::load_identity(&self.dir, &self.config)?;
        Ok(self.identity.get_or_init(|| identity))
    }

    fn integrity(&self, name: &str, e: RecordError) -> Error {
        Error::Integrity {
            path: self.store.location(name),
            reason: e.to_string(),
        }
    }

    /// The public header of an account, without the key (not yet authenticated). A header
    /// naming another account (a copied or renamed file) is refused as `read` refuses it, so
    /// that no listing shows one account twice.
    pub fn peek(&self, name: &str) -> Result<Header> {
        let raw = self
            .store
            .read(name)?
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        let header = record::peek(&raw.bytes).map_err(|e| self.integrity(name, e))?;
        if header.name != name {
            return Err(self.integrity(name, RecordError::WrongName(header.name)));
        }
        Ok(header)
    }

    /// Opens an account and returns it with the revision read, for a later compare-and-swap.
    pub fn read(&self, name: &str) -> Result<(Account, Revision)> {
        let raw = self
            .store
            .read(name)?
            .ok_or_else(|| Error::NotFound(name.to_string()))?;
        let identity = self.identity()?;
        let account =
            record::open(&raw.bytes, name, identity).map_err(|e| self.integrity(name, e))?;
        Ok((account, raw.revision))
    }

    /// Takes the account's exclusive lock.
    pub fn lock(&self, name: &str) -> Result<Box<dyn AccountLock>> {
        let timeout = std::env::var("KEYCHAIN_LOCK_TIMEOUT")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_LOCK_TIMEOUT);
        let _waiting = crate::output::Waiting::start(&format!(
            "waiting for account '{name}': another keychain process is using it"
        ));
        Ok(self.store.lock(name, timeout)?)
    }

    /// Seals the account to every recipient and writes it if the record is still as expected.
    pub fn save(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        account: &Account,
    ) -> Result<Revision> {
        debug_assert_eq!(lock.account(), account.header.name);
        let recipients = self.config.all_recipients()?;
        let recipients: Vec<&dyn age::Recipient> = recipients
            .iter()
            .map(|r| r as &dyn age::Recipient)
            .collect();
        let bytes = record::seal(account, &recipients)
            .map_err(|e| Error::usage(format!("cannot encrypt the record: {e}")))?;
        Ok(self.store.write(lock, expect, &bytes)?)
    }

    pub fn remove(&self, lock: &dyn AccountLock) -> Result<()> {
        self.store.remove(lock).map_err(|e| match e {
            StoreError::NotFound(name) => Error::NotFound(name),
            other => other.into(),
        })
    }

    pub fn record_path(&self, name: &str) -> PathBuf {
        self.store.location(name)
    }
}
