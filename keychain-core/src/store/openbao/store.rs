//! [`RecordStore`] on OpenBao KV v2: the record of NAME at `MOUNT/data/PREFIX/records/NAME`,
//! holding the same sealed bytes a local file holds (base64 in the field `record`); its lock the
//! lease at `PREFIX/locks/NAME` ([`super::lease`]).
//!
//! A [`Revision`] is the KV version. Every write is a check-and-set: `Absent` is `cas: 0`,
//! `At(v)` is `cas: v`, `Any` reads the current version first, so a holder whose lease ran out
//! and whose successor wrote is refused. Whether the lease still lasts
//! ([`AccountLock::still_held`]) is asked by the caller before a change
//! (`Keychain::commit`, `Keychain::remove`, login before a refresh), not here: the write-back
//! of a refresh token the provider already rotated must still be tried.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use super::client::{BaoError, KvClient};
use super::lease::{self, AcquireError, LockKey};
use super::settings::OpenBaoSettings;
use crate::fsutil;
use crate::store::{
    AccountLock, Expect, Listing, Location, RawRecord, RecordStore, Revision, StoreError,
    validate_name,
};

/// Largest local copy read back (records are kilobytes).
const MAX_COPY: u64 = 16 << 20;

/// The field of a record's KV data that holds its sealed bytes.
const RECORD_FIELD: &str = "record";

/// The records of a keychain shared by several machines, on one OpenBao KV v2 mount. Holds
/// sealed bytes only; the token is the client's, never in a message.
pub struct OpenBaoStore {
    client: KvClient,
    settings: OpenBaoSettings,
    /// The lease for lock keys this machine creates.
    lease: Duration,
    /// Where the last sealed bytes seen of each record are kept (0600 in a 0700 folder, still
    /// age-encrypted), for `login` to serve a still-valid access token while OpenBao is down.
    copies: Option<PathBuf>,
}

/// The folder, in the keychain folder, of the local read-only copies.
pub const COPY_DIR: &str = "shared-copy";

impl OpenBaoStore {
    /// A store for `settings`; contacts the server only at the first call.
    pub fn open(settings: &OpenBaoSettings, lease: Duration) -> Result<Self, StoreError> {
        Ok(OpenBaoStore {
            client: KvClient::new(settings)?,
            settings: settings.clone(),
            lease,
            copies: None,
        })
    }

    /// Keeps a read-only copy of every record seen in `dir/shared-copy` (see [`COPY_DIR`]).
    pub fn keep_copies_in(mut self, dir: &Path) -> Self {
        self.copies = Some(dir.join(COPY_DIR));
        self
    }

    fn copy_path(&self, name: &str) -> Option<PathBuf> {
        self.copies
            .as_ref()
            .map(|dir| dir.join(format!("{name}.kcr")))
    }

    /// Refreshes the local copy when the record differs from it (after a write, or a read the
    /// keychain checked: [`RecordStore::keep_copy`]). Best effort: a copy that
    /// cannot be written only means no offline answer later, never a failed command.
    fn update_copy(&self, name: &str, bytes: &[u8]) {
        let Some(path) = self.copy_path(name) else {
            return;
        };
        if fsutil::read_regular(&path, MAX_COPY).is_ok_and(|old| old == bytes) {
            return;
        }
        let dir = fsutil::parent_of(&path);
        if !dir.is_dir() && fsutil::ensure_private_dir(&dir).is_err() {
            return;
        }
        // Readers refresh it without the lock: a temp name of its own for each writer.
        let _ = fsutil::write_atomic_unique(&path, bytes, fsutil::FILE_MODE);
    }

    fn drop_copy(&self, name: &str) {
        if let Some(path) = self.copy_path(name) {
            let _ = fsutil::remove_durable(&path);
        }
    }

    /// The KV client it talks through (one login, one connection pool).
    pub fn client(&self) -> &KvClient {
        &self.client
    }

    /// The settings the store was opened with.
    pub fn settings(&self) -> &OpenBaoSettings {
        &self.settings
    }

    fn record_key(&self, name: &str) -> String {
        format!("{}/records/{name}", self.settings.path)
    }

    fn lock_key(&self, name: &str) -> String {
        format!("{}/locks/{name}", self.settings.path)
    }

    /// The record's bytes and version, or its version alone when there is no record.
    fn read_versioned(&self, name: &str) -> Result<(Option<Vec<u8>>, u64), StoreError> {
        let key = self.record_key(name);
        let entry = self.client.read(&self.settings.mount, &key)?;
        let Some(data) = entry.data else {
            return Ok((None, entry.version));
        };
        let not_a_record = |reason: &str| StoreError::NotARecord {
            path: self.location(name).into(),
            reason: reason.to_string(),
        };
        let text = data
            .get(RECORD_FIELD)
            .and_then(Value::as_str)
            .ok_or_else(|| not_a_record("its KV data has no 'record' field"))?;
        let bytes = B64
            .decode(text)
            .map_err(|_| not_a_record("its 'record' field is not base64"))?;
        Ok((Some(bytes), entry.version))
    }
}

impl RecordStore for OpenBaoStore {
    fn read(&self, name: &str) -> Result<Option<RawRecord>, StoreError> {
        validate_name(name)?;
        let (bytes, version) = self.read_versioned(name)?;
        // The local copy is refreshed by the caller once the record checked out
        // (`keep_copy`): what was read is not yet known to be a member's.
        Ok(bytes.map(|bytes| RawRecord {
            bytes,
            revision: Revision(version.to_string()),
        }))
    }

    fn write(
        &self,
        lock: &dyn AccountLock,
        expect: Expect,
        bytes: &[u8],
    ) -> Result<Revision, StoreError> {
        let name = lock.account();
        validate_name(name)?;
        let cas = match &expect {
            Expect::Absent => 0,
            Expect::At(revision) => revision
                .0
                .parse::<u64>()
                .map_err(|_| StoreError::Conflict(name.to_string()))?,
            Expect::Any => self.read_versioned(name)?.1,
        };
        let mut data = Map::new();
        data.insert(RECORD_FIELD.into(), Value::String(B64.encode(bytes)));
        match self
            .client
            .write(&self.settings.mount, &self.record_key(name), data, cas)
        {
            Ok(version) => {
                self.update_copy(name, bytes);
                Ok(Revision(version.to_string()))
            }
            Err(BaoError::CasConflict { .. }) if expect == Expect::Absent => {
                Err(StoreError::Exists(name.to_string()))
            }
            Err(BaoError::CasConflict { .. }) => Err(StoreError::Conflict(name.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn remove(&self, lock: &dyn AccountLock) -> Result<(), StoreError> {
        let name = lock.account();
        validate_name(name)?;
        if self.read_versioned(name)?.0.is_none() {
            return Err(StoreError::NotFound(name.to_string()));
        }
        // Every version and the metadata: a later `add` of the same name starts at `cas: 0`.
        self.client
            .destroy(&self.settings.mount, &self.record_key(name))?;
        self.drop_copy(name);
        Ok(())
    }

    fn listing(&self) -> Result<Listing, StoreError> {
        let keys = self.client.list(
            &self.settings.mount,
            &format!("{}/records", self.settings.path),
        )?;
        // Sub-folders (`x/`) and names no record can have are not accounts.
        let names = keys
            .into_iter()
            .filter(|k| validate_name(k).is_ok())
            .collect();
        Ok(Listing {
            names,
            strays: Vec::new(),
        })
    }

    fn lock(&self, name: &str, timeout: Duration) -> Result<Box<dyn AccountLock>, StoreError> {
        validate_name(name)?;
        let key = LockKey {
            client: self.client.clone(),
            mount: self.settings.mount.clone(),
            path: self.lock_key(name),
            account: name.to_string(),
        };
        match lease::acquire(key, self.lease, timeout) {
            Ok(lock) => Ok(Box::new(lock)),
            Err(AcquireError::TimedOut(holder)) => Err(StoreError::LockTimeout {
                account: name.to_string(),
                waited: timeout,
                holder: holder.map(Box::new),
            }),
            Err(AcquireError::Bao(e)) => Err(e.into()),
        }
    }

    fn shared_space(&self) -> Option<std::sync::Arc<dyn crate::store::kv::Kv>> {
        Some(std::sync::Arc::new(super::kv::BaoKv::new(
            self.client.clone(),
            &self.settings,
        )))
    }

    fn last_seen(&self, name: &str) -> Option<Vec<u8>> {
        validate_name(name).ok()?;
        let path = self.copy_path(name)?;
        let file = fsutil::open_regular(&path).ok()?;
        let meta = file.metadata().ok()?;
        // A copy others could have written is not trusted, not even to be opened.
        if fsutil::writable_by_others(&path, &meta).is_some() {
            return None;
        }
        fsutil::read_capped(file, meta.len(), MAX_COPY).ok()
    }

    fn keep_copy(&self, name: &str, bytes: &[u8]) {
        if validate_name(name).is_ok() {
            self.update_copy(name, bytes);
        }
    }

    fn location(&self, name: &str) -> Location {
        Location::Remote(format!(
            "openbao://{}/{}/{}/{name}",
            self.settings.host(),
            self.settings.mount,
            self.settings.path
        ))
    }
}
